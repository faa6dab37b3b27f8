/** vitest global setup: dist/models holds the shipped models built from the current sources. */
import { ensureModelsBuilt } from '../../relay/models/build.ts';

export default async function setup(): Promise<void> {
  await ensureModelsBuilt();
}
