/**
 * The app's focused services in real Chromium, each on fakes of its
 * collaborators and a database of its own (no relay): the status store keeps
 * a failure, the settings store announces changes to the origin, the model
 * service falls back to the last catalogue when the relay is out of reach,
 * the contribution service keeps the allocation, the connection service
 * tells online from unreachable and offline, and the account service decides
 * between onboarding and ready.
 */
import { deleteDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayUnreachableError } from '#client/sdk/errors.ts';
import type { AIComputeClient } from '#client/sdk/client.ts';
import type { Catalogue } from '#core/models/catalogue.ts';
import { presetAllocation } from '#core/resources/allocation.ts';
import { openAcnDb, type AcnDb } from '#browser-storage/db.ts';
import type { AccountKey } from '#web/keys/account-key.ts';
import { createAccountService } from '#web/services/account-service.ts';
import { initialStatus, type AppStatus } from '#web/services/app-context.ts';
import { createAppStatusStore, type AppStatusStore } from '#web/services/app-status-store.ts';
import { createConnectionService, type ConnectionService } from '#web/services/connection-service.ts';
import { createContributionService, RESOURCES_SETTING } from '#web/services/contribution-service.ts';
import { createModelService } from '#web/services/model-service.ts';
import { createSettingsStore } from '#web/services/settings-store.ts';

const ACCOUNT = '12D3KooWAccountOfThisTest';
const opened: { db: AcnDb; name: string }[] = [];

async function freshDb(): Promise<AcnDb> {
  const name = `acn-services-test-${crypto.randomUUID()}`;
  const db = await openAcnDb({ name });
  opened.push({ db, name });
  return db;
}

afterEach(async () => {
  for (const { db, name } of opened.splice(0)) {
    db.close();
    await deleteDB(name);
  }
});

function store(): { status: AppStatusStore; seen: AppStatus[] } {
  const seen: AppStatus[] = [];
  const status = createAppStatusStore({ initial: initialStatus(true), onStatus: (s) => seen.push(s) });
  return { status, seen };
}

const unreachable = (): Promise<never> => Promise.reject(new RelayUnreachableError('the relay is down'));

describe('app status store', () => {
  it('reports every snapshot, and a failure stays', () => {
    const { status, seen } = store();
    status.set({ phase: 'ready', balance: 5 });
    status.set({ phase: 'failed', failure: { title: 't', message: 'm', code: 'relay-key-changed' } });
    status.set({ phase: 'ready', balance: 6 });
    expect(seen.map((s) => s.phase)).toEqual(['starting', 'ready', 'failed']);
    expect(status.status.phase).toBe('failed');
  });
});

describe('settings store', () => {
  it('reads what it wrote, and announces it to the origin unless told not to', async () => {
    const settings = createSettingsStore(await freshDb());
    const channel = new BroadcastChannel('acn-settings');
    const heard: unknown[] = [];
    channel.onmessage = (event: MessageEvent) => heard.push(event.data);
    await settings.write('quiet', 1, { announce: false });
    await settings.write('loud', 2);
    await expect.poll(() => heard).toEqual([{ name: 'loud' }]);
    channel.close();
    expect(await settings.read('quiet')).toBe(1);
    expect(await settings.read('missing')).toBeUndefined();
  });
});

describe('model service', () => {
  it('keeps the catalogue it read and returns it when the relay is out of reach', async () => {
    const settings = createSettingsStore(await freshDb());
    const catalogue = { version: 1, models: [{ id: 'm1' }] } as unknown as Catalogue;
    let relayUp = true;
    const client = {
      models: () => (relayUp ? Promise.resolve(catalogue) : unreachable()),
    } as unknown as AIComputeClient;
    const first = createModelService({ client, relayUrl: 'http://relay', settings });
    expect(await first.catalogue()).toEqual(catalogue);
    await expect.poll(() => settings.read('catalogue')).toEqual(catalogue);

    relayUp = false;
    const offline = createModelService({ client, relayUrl: 'http://relay', settings });
    expect(await offline.catalogue()).toEqual(catalogue);
    expect((await offline.modelEntry('m1'))?.id).toBe('m1');
    expect(await offline.modelEntry('nope')).toBeUndefined();
  });

  it('hands local runs the relay that serves the model files', async () => {
    const seen: string[] = [];
    const models = createModelService({
      client: { models: unreachable },
      relayUrl: 'http://relay',
      settings: createSettingsStore(await freshDb()),
      runLocally: (_entry, _input, options) => {
        seen.push(options.relayUrl);
        return Promise.resolve({ output: new Uint8Array(), backend: 'wasm', ms: 1, loadMs: 0 });
      },
    });
    await models.runLocally({ id: 'm1' } as never, new Uint8Array());
    expect(seen).toEqual(['http://relay']);
  });
});

describe('contribution service', () => {
  it('stores the allocation and reads it back; an allocation that no longer fits reads as none', async () => {
    const settings = createSettingsStore(await freshDb());
    const contribution = createContributionService({
      relayUrl: 'http://relay',
      client: {} as unknown as AIComputeClient,
      signer: {} as never,
      settings,
    });
    expect(await contribution.loadAllocation()).toBeUndefined();
    const generous = presetAllocation('generous');
    await contribution.saveAllocation(generous);
    expect(await contribution.loadAllocation()).toEqual(generous);
    await settings.write(RESOURCES_SETTING, { preset: 'from-an-old-version' });
    expect(await contribution.loadAllocation()).toBeUndefined();
    expect(contribution.active()).toBeUndefined();
  });
});

function connectionOver(
  db: AcnDb,
  status: AppStatusStore,
  client: Partial<AIComputeClient>,
  online: () => boolean,
): ConnectionService {
  return createConnectionService({
    client: client as AIComputeClient,
    db,
    relayUrl: 'http://relay',
    pin: { account: ACCOUNT, source: 'join-url', pinnedAt: 0 } as never,
    account: ACCOUNT as never,
    status,
    isOnline: online,
    every: () => () => undefined,
  });
}

describe('connection service', () => {
  it('is online when the relay answers, unreachable when it does not, offline without a network', async () => {
    const db = await freshDb();
    const { status } = store();
    let up = true;
    let network = true;
    const connection = connectionOver(
      db,
      status,
      { status: () => (up ? Promise.resolve({ relay: undefined } as never) : unreachable()) },
      () => network,
    );
    expect(await connection.check()).toBe('online');
    up = false;
    expect(await connection.check()).toBe('unreachable');
    expect(status.status.connection).toBe('unreachable');
    network = false;
    expect(await connection.check()).toBe('offline');
    expect(status.status.connection).toBe('offline');
  });

  it('stops the app when the relay presents another key than the pinned one', async () => {
    const db = await freshDb();
    const { status } = store();
    let stopped = 0;
    const connection = createConnectionService({
      client: {
        status: () => Promise.resolve({ relay: { account: '12D3KooWSomeoneElse' } } as never),
      } as unknown as AIComputeClient,
      db,
      relayUrl: 'http://relay',
      pin: undefined,
      account: ACCOUNT as never,
      status,
      isOnline: () => true,
      every: () => () => undefined,
      onFailure: () => {
        stopped++;
      },
    });
    // The first key seen is pinned; another one later is refused.
    await connection.checkPin('12D3KooWFirstRelay' as never);
    expect(connection.pinnedRelay?.account).toBe('12D3KooWFirstRelay');
    await connection.check();
    expect(status.status.phase).toBe('failed');
    expect(status.status.failure?.title).toBe('This is not the relay you joined');
    expect(stopped).toBe(1);
  });
});

describe('account service', () => {
  function accountOver(db: AcnDb, status: AppStatusStore, balance: () => Promise<unknown>) {
    const connection = {
      client: { balance } as unknown as AIComputeClient,
      check: () => Promise.resolve('online' as const),
    } as unknown as ConnectionService;
    let ready = 0;
    const account = createAccountService({
      key: { account: ACCOUNT } as unknown as AccountKey,
      db,
      connection,
      status,
      settings: createSettingsStore(db),
      persist: () => Promise.resolve(true),
      onReady: () => {
        ready++;
      },
    });
    return { account, ready: () => ready };
  }

  it('asks a new account to onboard, and a granted one is ready with its balance', async () => {
    const db = await freshDb();
    const fresh = store();
    const newcomer = accountOver(db, fresh.status, () => Promise.resolve({ balance: 0, granted: false }));
    await newcomer.account.start();
    expect(fresh.status.status.phase).toBe('onboarding');
    expect(newcomer.ready()).toBe(0);

    const granted = store();
    const known = accountOver(db, granted.status, () => Promise.resolve({ balance: 42, granted: true }));
    await known.account.start();
    expect(granted.status.status.phase).toBe('ready');
    expect(known.ready()).toBe(1);
    await expect.poll(() => granted.status.status.balance).toBe(42);

    // Onboarded on this device: ready at once the next time, even with the relay out of reach.
    const later = store();
    const offline = accountOver(db, later.status, unreachable);
    await offline.account.start();
    expect(later.status.status.phase).toBe('ready');
    expect(await offline.account.refreshBalance()).toBeUndefined();
  });
});
