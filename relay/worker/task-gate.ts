/**
 * Admission of tasks into the Node worker: the slots every desktop worker
 * uses (shared/client/worker-session/task-slots.ts), refusing a task that waited too long
 * with {@link WorkerBusyError} (`worker-busy`), the Node worker's wire code
 * for it, so the relay can run it elsewhere at once rather than time out.
 */
import {
  createTaskSlots,
  type TaskSlotLimits,
  type TaskSlots,
  type TaskSlotsInit,
  type TaskSlotsStats,
} from '#client/worker-session/task-slots.ts';
import { WorkerBusyError } from './errors.ts';

export type TaskGateLimits = TaskSlotLimits;
export type TaskGateInit = Omit<TaskSlotsInit, 'busyError'>;
export type TaskGateStats = TaskSlotsStats;
export type TaskGate = TaskSlots;

/** Slots with the defaults of {@link createTaskSlots} (5 s wait, 60 s longest rest). */
export function createTaskGate(init: TaskGateInit): TaskGate {
  return createTaskSlots({ ...init, busyError: (message) => new WorkerBusyError(message) });
}
