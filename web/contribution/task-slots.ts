/**
 * Admission of tasks into the browser worker: the slots every desktop worker
 * uses (shared/client/worker-session/task-slots.ts), refusing a task that found no slot in
 * time as `busy`, with a longest rest of 30 s: a tab's tasks are short.
 */
import {
  createTaskSlots as createSlots,
  type TaskSlots,
  type TaskSlotsInit,
} from '#client/worker-session/task-slots.ts';

export type { TaskSlotLimits, TaskSlots } from '#client/worker-session/task-slots.ts';

/** Slots with a 5 s wait and a 30 s longest rest by default. */
export function createTaskSlots(init: TaskSlotsInit): TaskSlots {
  return createSlots({ maxRestMs: 30_000, ...init });
}
