/**
 * The model tools' entry: builds the shipped models into a content-addressed
 * directory (default dist/models). The relay does the same on start when its
 * sources changed; this is for doing it by hand.
 *
 *   npm run models -- [--out DIR] [--only name,name]
 */
import { parseArgs } from 'node:util';
import { buildModels, DEFAULT_MODELS_DIR } from '#node/models/build-models.ts';

const { values } = parseArgs({ options: { out: { type: 'string' }, only: { type: 'string' } } });
await buildModels(values.out ?? DEFAULT_MODELS_DIR, values.only ? { only: values.only.split(',') } : {});
