/** vitest global setup: dist/models holds the shipped models built from the current sources. */
import { ensureModelsBuilt } from '#node/models/build-models.ts';

export default async function setup(): Promise<void> {
  await ensureModelsBuilt();
}
