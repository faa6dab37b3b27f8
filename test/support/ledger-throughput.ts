/**
 * A quick timing of durable `submit` throughput on a SQLite ledger, with
 * group commit (the defaults) and with one commit per transaction
 * (`maxCommitTxs: 1`). Not a test: run `node test/support/ledger-throughput.ts [count]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createLedgerService, type LedgerServiceInit } from '#server/ledger/ledger-service.ts';
import { createSqliteLedgerStore } from '#server/ledger/sqlite-store.ts';
import { signTransaction, solvePow, type Signer } from '#core/index.ts';
import { fastSigner } from './ledger-fast-signer.ts';
import { signerFor, TEST_PARAMS } from './network.ts';

const COUNT = Number(process.argv[2] ?? 4000);
const SENDERS = 40;
const relay = signerFor('relay');
const senders = Array.from({ length: SENDERS }, (_, i) => fastSigner(signerFor(`throughput ${i}`)));

async function transfers(): Promise<Uint8Array[]> {
  const signed: Uint8Array[] = [];
  for (let seq = 1; signed.length < COUNT; seq++) {
    for (const [i, from] of senders.entries()) {
      const to = (senders[(i + 1) % SENDERS] as Signer).accountId;
      signed.push(await signTransaction(from, 'tx/transfer', { v: 1, net: relay.accountId, to, amount: 1, seq }));
    }
  }
  return signed.slice(0, COUNT - (COUNT % SENDERS));
}

async function measure(label: string, init: Partial<LedgerServiceInit>, concurrent: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'acn-ledger-throughput-'));
  try {
    const ledger = createLedgerService({
      store: createSqliteLedgerStore({ path: join(dir, 'ledger.db') }),
      producer: relay,
      verifier: createNodeVerifier(),
      params: TEST_PARAMS,
      ...init,
    });
    await ledger.start();
    for (const who of senders) {
      const pow = await solvePow({ network: relay.accountId, publicKey: who.publicKey, difficulty: 4 });
      const granted = await ledger.submitSigned('tx/grant', { to: who.accountId, amount: 1000, pow });
      if (!granted.ok) throw granted.error;
    }
    const signed = await transfers();
    const started = performance.now();
    if (concurrent) {
      const results = await Promise.all(signed.map((bytes) => ledger.submit(bytes)));
      if (!results.every((r) => r.ok)) throw new Error('a submission failed');
    } else {
      for (const bytes of signed) if (!(await ledger.submit(bytes)).ok) throw new Error('a submission failed');
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${label}: ${signed.length} durable submits in ${seconds.toFixed(2)} s = ${Math.round(signed.length / seconds)}/s`,
    );
    await ledger.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await measure('group commit, all concurrent', {}, true);
await measure('one commit per tx, all concurrent', { maxCommitTxs: 1 }, true);
await measure('one client awaiting each ack (group commit on)', {}, false);
