/**
 * Run by test/unit/relay/server/ledger/ledger-crash.test.ts as a child process, to be killed with
 * SIGKILL mid-burst: opens the SQLite ledger at argv[2], onboards a few
 * accounts, then submits transfers in a tight loop forever. Each line on
 * stdout is written only after the service acknowledged the transaction:
 * `grant <id>`, then `ready`, then `ack <id>` (or `refused <name>`).
 */
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createLedgerService } from '#server/ledger/ledger-service.ts';
import { createSqliteLedgerStore } from '#server/ledger/sqlite-store.ts';
import { signTransaction, solvePow } from '#core/index.ts';
import { fastSigner } from './ledger-fast-signer.ts';
import { signerFor, TEST_PARAMS } from './network.ts';

/** Accounts onboarded by the child; transfers go round-robin between them. */
const CRASH_ACCOUNTS = 8;
const MAX_IN_FLIGHT = 256;

const path = process.argv[2];
if (path === undefined) throw new Error('usage: ledger-crash-child.ts <database file>');
const relay = signerFor('relay');
const ledger = createLedgerService({
  store: createSqliteLedgerStore({ path }),
  producer: relay,
  verifier: createNodeVerifier(),
  params: TEST_PARAMS,
  blockIntervalMs: 25,
  maxBlockTxs: 200,
});
await ledger.start();

// process.stdout on a pipe is synchronous on Linux: a printed line has left the process.
const print = (line: string): boolean => process.stdout.write(`${line}\n`);

const accounts = Array.from({ length: CRASH_ACCOUNTS }, (_, i) => fastSigner(signerFor(`crash ${i}`)));
for (const who of accounts) {
  const pow = await solvePow({
    network: relay.accountId,
    publicKey: who.publicKey,
    difficulty: TEST_PARAMS.minPowDifficulty,
  });
  const granted = await ledger.submitSigned('tx/grant', { to: who.accountId, amount: TEST_PARAMS.grantAmount, pow });
  if (!granted.ok) throw granted.error;
  print(`grant ${granted.value.id}`);
}
print('ready');

const seqs = accounts.map(() => 0);
let inFlight = 0;
for (let n = 0; ; n++) {
  const i = n % accounts.length;
  const from = accounts[i] as (typeof accounts)[number];
  const to = accounts[(i + 1) % accounts.length] as (typeof accounts)[number];
  seqs[i] = (seqs[i] as number) + 1;
  const bytes = await signTransaction(from, 'tx/transfer', {
    v: 1,
    net: relay.accountId,
    to: to.accountId,
    amount: 1,
    seq: seqs[i],
  });
  inFlight++;
  void ledger.submit(bytes).then((result) => {
    inFlight--;
    print(result.ok ? `ack ${result.value.id}` : `refused ${result.error.name}`);
  });
  while (inFlight >= MAX_IN_FLIGHT) await new Promise((resolve) => setImmediate(resolve));
}
