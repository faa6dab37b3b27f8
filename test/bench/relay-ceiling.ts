/**
 * The reference the relay's submission figure is held against, run in the
 * same bench so that both see the same machine: the least an express 5
 * server can do for a durable signed submission. `POST /tx` with `{ tx }`:
 * express's JSON parser, the envelope decoded, one node:crypto verification
 * with a cached key, and a group-committed SQLite append (WAL,
 * `synchronous=FULL`, a row with a unique id index plus a balance update
 * under `CHECK (balance >= 0)`), answered 201 only after the commit. No
 * ledger rules, no threads: the "express + native verify + group commit"
 * setup that reached about 2,700/s here (shared/docs/ENVIRONMENT.md).
 *
 * `node test/bench/relay-ceiling.ts <dir>` listens on 127.0.0.1 and prints
 * `{"port":N}`; SIGTERM stops it.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import express from 'express';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { fromBase64Url } from '#core/encoding/bytes.ts';
import { decodeEnvelope, signingBytes } from '#core/envelope/envelope.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: node test/bench/relay-ceiling.ts <dir>');

const db = new Database(join(dir, 'ceiling.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`
  CREATE TABLE txs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, bytes BLOB NOT NULL) STRICT;
  CREATE TABLE accounts (key BLOB PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0)) STRICT, WITHOUT ROWID;
`);
const insertTx = db.prepare<[string, Uint8Array]>('INSERT INTO txs (id, bytes) VALUES (?, ?)');
const debit = db.prepare<[Uint8Array]>(
  `INSERT INTO accounts (key, balance) VALUES (?, 1000000000)
   ON CONFLICT (key) DO UPDATE SET balance = balance - 1`,
);

interface Waiting {
  readonly id: string;
  readonly bytes: Uint8Array;
  readonly key: Uint8Array;
  readonly done: (error?: unknown) => void;
}
let waiting: Waiting[] = [];
const commit = db.transaction((group: readonly Waiting[]) => {
  for (const w of group) {
    insertTx.run(w.id, w.bytes);
    debit.run(w.key);
  }
});
/** Group commit: everything that arrived during one turn of the event loop shares one transaction and fsync. */
function flush(): void {
  const group = waiting;
  waiting = [];
  try {
    commit.immediate(group);
    for (const w of group) w.done();
  } catch (error) {
    for (const w of group) w.done(error);
  }
}

const verifier = createNodeVerifier();
const app = express();
app.use(express.json());
app.post('/tx', (req, res) => {
  const bytes = fromBase64Url(String((req.body as { tx?: unknown }).tx));
  const envelope = decodeEnvelope(bytes);
  if (!envelope.ok) {
    res.status(400).json({ error: envelope.error.name });
    return;
  }
  const { type, body, key, sig } = envelope.value;
  if (!verifier.verify(sig, signingBytes(type, body), key)) {
    res.status(401).json({ error: 'BadSignatureError' });
    return;
  }
  const id = createHash('sha256').update(bytes).digest('hex');
  if (waiting.length === 0) setImmediate(flush);
  waiting.push({
    id,
    bytes,
    key,
    done: (error) => {
      if (error === undefined) res.status(201).json({ id });
      else res.status(503).json({ error: error instanceof Error ? error.message : 'the commit failed' });
    },
  });
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  db.close();
  process.exit(0);
});
