/**
 * This device's account: its key, the balance read from the relay, the
 * onboarding (proof-of-work, then the grant), transfers and the key's
 * encrypted backup. Decides, at start, between onboarding and ready.
 */
import type { AccountId } from '#core/identity/ids.ts';
import type { PowProgress } from '#core/pow/pow.ts';
import { isRetryable } from '#client/sdk/errors.ts';
import type { AccountBalance, SubmittedTx } from '#core/api/responses.ts';
import type { AcnDb } from '#browser-storage/db.ts';
import type { AccountKey } from '../keys/account-key.ts';
import { solvePow } from '../pow/solve-pow.ts';
import type { AppStatusStore } from './app-status-store.ts';
import type { ConnectionService } from './connection-service.ts';
import { ONBOARDED_PREFIX } from './device-probe.ts';
import type { SettingsStore } from './settings-store.ts';

const ONBOARDED_SETTING = (account: string): string => `${ONBOARDED_PREFIX}${account}`;
const PERSIST_SETTING = 'storage-persist-requested';

export interface AccountServiceInit {
  /** This device's account key. */
  readonly key: AccountKey;
  /** The database the key lives in (a backup reads it, a restore replaces it). */
  readonly db: AcnDb;
  /** The relay: its client, reachability and pin. */
  readonly connection: ConnectionService;
  /** Where the phase and the balance are written. */
  readonly status: AppStatusStore;
  /** Where "onboarded" is remembered. */
  readonly settings: SettingsStore;
  /** Solves the onboarding proof-of-work. Default {@link solvePow} (in a Web Worker). */
  readonly solve?: typeof solvePow;
  /** Asks the browser to keep the app's storage. Default `navigator.storage.persist()` where there is one. */
  readonly persist?: () => Promise<boolean>;
  /** Called each time the account becomes ready (onboarded): the shell starts the outbox and live events then. */
  readonly onReady?: () => void;
}

export interface AccountService {
  readonly key: AccountKey;
  readonly account: AccountId;
  /** Decides between onboarding and ready (ready at once on a device that onboarded this account before). */
  start(): Promise<void>;
  /** Reads the balance from the relay and updates the status; undefined when the relay cannot be reached. */
  refreshBalance(options?: { signal?: AbortSignal }): Promise<AccountBalance | undefined>;
  /**
   * Onboards this device's account: fetches the relay's puzzle, solves the
   * proof-of-work (progress through `onProgress`), claims the grant. Returns
   * the grant received (0 when the account already had it).
   */
  onboard(options?: { onProgress?: (progress: PowProgress) => void; signal?: AbortSignal }): Promise<number>;
  /** Sends `amount` tokens to `to`, signed by this account. */
  transfer(to: AccountId, amount: number, options?: { signal?: AbortSignal }): Promise<SubmittedTx>;
  /** The account key, encrypted with `passphrase`, as a backup file's text. */
  exportBackup(passphrase: string): Promise<string>;
  /** Replaces this device's key with a backup's; the app must reload to use it. Returns the restored account. */
  importBackup(text: string, passphrase: string): Promise<AccountId>;
}

/** Makes the account service; nothing is asked of the relay until {@link AccountService.start}. */
export function createAccountService(init: AccountServiceInit): AccountService {
  const { key, connection, status, settings } = init;
  const solve = init.solve ?? solvePow;
  const persist =
    init.persist ?? (async () => ('storage' in navigator ? navigator.storage.persist().catch(() => false) : false));
  const account = key.account;

  /** Asks the browser once to keep the app's storage (the key, the outbox) when space runs low. */
  const requestPersistence = async (): Promise<void> => {
    if ((await settings.read(PERSIST_SETTING)) === true) return;
    await settings.write(PERSIST_SETTING, true, { announce: false });
    await persist();
  };

  const becomeReady = async (): Promise<void> => {
    await settings.write(ONBOARDED_SETTING(account), true, { announce: false });
    status.set({ phase: 'ready' });
    void requestPersistence();
    void service.refreshBalance();
    init.onReady?.();
  };

  const service: AccountService = {
    key,
    account,

    async start() {
      const onboarded = (await settings.read(ONBOARDED_SETTING(account))) === true;
      if (onboarded) {
        await becomeReady();
        void connection.check();
        return;
      }
      const reached = await connection.check();
      if (status.status.phase === 'failed') return;
      if (reached === 'online') {
        const balance = await service.refreshBalance().catch(() => undefined);
        if (balance?.granted === true) {
          await becomeReady();
          return;
        }
      }
      status.set({ phase: 'onboarding' });
    },

    async refreshBalance(options = {}) {
      try {
        const balance = await connection.client.balance(account, options);
        status.set({ balance: balance.balance });
        return balance;
      } catch (error) {
        if (!isRetryable(error)) throw error;
        void connection.check();
        return undefined;
      }
    },

    async onboard(options = {}) {
      const { signal } = options;
      const { client } = connection;
      const puzzle = await client.onboardPuzzle({ signal });
      await connection.checkPin(puzzle.network);
      const solution = await solve(
        { network: puzzle.network, publicKey: key.publicKey, difficulty: puzzle.difficulty },
        { ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(signal ? { signal } : {}) },
      );
      let granted = puzzle.grant;
      try {
        const onboarded = await client.onboard(solution, { signal });
        status.set({ balance: onboarded.balance });
      } catch (error) {
        // A second device restored from the same backup, or a retry after a lost answer: the grant is already there.
        if ((error as { code?: unknown }).code !== 'already-granted') throw error;
        granted = 0;
      }
      await becomeReady();
      return granted;
    },

    transfer(to, amount, options = {}) {
      return connection.client.transfer(to, amount, options);
    },

    async exportBackup(passphrase) {
      // The backup's module (PBKDF2, AES-GCM, valibot schema) is loaded only when asked for.
      const { exportBackup } = await import('../keys/backup.ts');
      return exportBackup(init.db, passphrase);
    },

    async importBackup(text, passphrase) {
      const { importBackup } = await import('../keys/backup.ts');
      return (await importBackup(init.db, text, passphrase)).account;
    },
  };
  return service;
}
