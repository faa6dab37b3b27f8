/**
 * Task endpoints: submit a signed task with its input, follow it, fetch its
 * result with the worker's signed receipt, cancel it while it has not started.
 *
 * The interactive path: `POST /tasks` with `route: "direct"` answers, besides
 * the task, where to run it (`direct`: the worker's peer id, its WebRTC
 * addresses and the relay's signed assignment). The requester then brings the
 * worker's receipt and output to `POST /tasks/:id/receipt`, or asks for the
 * brokered path with `POST /tasks/:id/fallback`.
 *
 * Text generation: `GET /tasks/:id/stream` answers Server-Sent Events, an
 * `event: text` with `{ index, text }` for every piece made so far (from the
 * first) and then for each new one, and at last an `event: end` with
 * `{ task }` once the task is settled, refunded or failed for good (then the
 * connection closes); a comment line every 15 s keeps proxies from closing
 * it. Any task can be followed (one that makes no text just gets its end).
 * `POST /tasks/:id/stop` with the requester's signed `task/stop` stops it:
 * a task not started yet is cancelled and refunded, a generation under way
 * ends with what it made and settles for that, anything else is refused
 * (409 `not-stoppable`).
 */
import express, { type Router } from 'express';
import * as v from 'valibot';
import { MAX_ENVELOPE_BYTES } from '#core/envelope/envelope.ts';
import { parseAccountId, parseTaskId } from '#core/identity/ids.ts';
import { MAX_TASK_INPUT_BYTES } from '#core/messages/task.ts';
import { MAX_OUTPUT_BYTES } from '#core/messages/receipt.ts';
import { MAX_DIRECT_MESSAGE_BYTES } from '#core/messages/assignment.ts';
import type { TaskService } from '../task-service/task-service.ts';
import { HttpError } from './errors.ts';
import { b64, base64Bytes, readBody } from './wire.ts';
import { unwrap } from '#core/result.ts';

const submitSchema = v.strictObject({
  task: base64Bytes(MAX_ENVELOPE_BYTES),
  input: base64Bytes(MAX_TASK_INPUT_BYTES),
  route: v.optional(v.picklist(['brokered', 'direct'])),
});
const receiptSchema = v.strictObject({
  receipt: base64Bytes(MAX_ENVELOPE_BYTES),
  output: base64Bytes(MAX_OUTPUT_BYTES),
});
const fallbackSchema = v.strictObject({ request: base64Bytes(MAX_DIRECT_MESSAGE_BYTES) });

const cancelSchema = v.strictObject({ cancel: base64Bytes(MAX_ENVELOPE_BYTES) });
const stopSchema = v.strictObject({ stop: base64Bytes(MAX_ENVELOPE_BYTES) });

/** How often an open stream gets a comment line, so that nothing on the way closes it as idle. */
const STREAM_HEARTBEAT_MS = 15_000;

export function createTaskApi(tasks: TaskService): Router {
  const api = express.Router();

  api.post('/tasks', async (req, res) => {
    const body = readBody('task submission', submitSchema, req.body);
    const { task, created, direct } = await tasks.submit(body.task, body.input, { route: body.route ?? 'brokered' });
    const offer =
      direct === undefined
        ? {}
        : {
            direct: {
              worker: direct.worker,
              addrs: direct.addrs,
              assignment: b64(direct.assignment),
              expiresAt: direct.expiresAt,
            },
          };
    res.status(created ? 201 : 200).json({ task, ...offer });
  });

  // A refused receipt or fallback is a DirectPathError, answered by the error handler like any typed error.
  api.post('/tasks/:id/receipt', async (req, res) => {
    const id = unwrap(parseTaskId(req.params.id));
    const body = readBody('direct receipt', receiptSchema, req.body);
    res.json({ task: await tasks.submitReceipt(id, body.receipt, body.output) });
  });

  api.post('/tasks/:id/fallback', async (req, res) => {
    const id = unwrap(parseTaskId(req.params.id));
    const body = readBody('fallback request', fallbackSchema, req.body);
    const { task, created } = await tasks.fallback(id, body.request);
    res.status(created ? 202 : 200).json({ task });
  });

  api.get('/tasks', (req, res) => {
    const account = req.query.account === undefined ? undefined : unwrap(parseAccountId(req.query.account));
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new HttpError(400, 'bad-request', 'limit must be a whole number from 1');
    res.json({ tasks: tasks.list({ ...(account ? { account } : {}), limit }) });
  });

  api.get('/tasks/:id', (req, res) => {
    res.json({ task: tasks.get(unwrap(parseTaskId(req.params.id))) });
  });

  api.get('/tasks/:id/result', (req, res) => {
    const id = unwrap(parseTaskId(req.params.id));
    const result = tasks.result(id);
    if (result) {
      res.json({ task: result.task, output: b64(result.output), receipt: b64(result.receipt) });
      return;
    }
    const task = tasks.get(id);
    if (task.state === 'refunded' || task.state === 'cancelled' || task.state === 'failed') {
      throw new HttpError(409, 'no-result', `the task ended ${task.state} without a result; its escrow is refunded`);
    }
    if (task.state === 'settled') throw new HttpError(410, 'no-result', 'the result is no longer kept on this relay');
    res.status(202).json({ task });
  });

  api.delete('/tasks/:id', async (req, res) => {
    const id = unwrap(parseTaskId(req.params.id));
    const body = readBody('task cancel', cancelSchema, req.body);
    res.json({ task: await tasks.cancel(id, body.cancel) });
  });

  api.post('/tasks/:id/stop', async (req, res) => {
    const id = unwrap(parseTaskId(req.params.id));
    const body = readBody('task stop', stopSchema, req.body);
    res.json({ task: await tasks.stop(id, body.stop) });
  });

  api.get('/tasks/:id/stream', (req, res) => {
    const id = unwrap(parseTaskId(req.params.id));
    let unwatch = (): void => undefined;
    const heartbeat = setInterval(() => {
      res.write(': heartbeat\n\n');
    }, STREAM_HEARTBEAT_MS);
    heartbeat.unref();
    const close = (): void => {
      clearInterval(heartbeat);
      unwatch();
      if (!res.writableEnded) res.end();
    };
    const send = (event: 'text' | 'end', data: unknown): void => {
      if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    res.status(200).set({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // Proxies such as nginx would otherwise hold the events back.
      'x-accel-buffering': 'no',
    });
    try {
      // Refuses (unknown task, too many streams) before it sends anything: the error is a plain JSON answer.
      unwatch = tasks.watch(id, {
        text: (index, text) => {
          send('text', { index, text });
        },
        end: (task) => {
          send('end', { task });
          close();
        },
      });
    } catch (error) {
      clearInterval(heartbeat);
      res.removeHeader('content-type');
      res.removeHeader('cache-control');
      res.removeHeader('x-accel-buffering');
      throw error;
    }
    if (res.writableEnded) return; // the task had ended: the replay and its end went out
    res.flushHeaders();
    res.on('close', close);
  });

  return api;
}
