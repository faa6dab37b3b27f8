/**
 * `npm run relay [-- options]` starts the relay; subcommands manage it:
 *
 *   npm run relay -- models add FILE --name NAME --price N --license SPDX --source TEXT
 *   npm run relay -- models list
 *   npm run relay -- ledger verify
 *   npm run relay -- resources show
 *   npm run relay -- resources set --preset balanced | --cpu 50 [--ram 30 ...]
 *
 * `npm run relay -- --help` lists every option with its environment variable.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SIZE_CLASSES } from '#core/models/catalogue.ts';
import { CUSTOM_RANGES, PRESET_NAMES } from '#core/resources/allocation.ts';
import { toRelayConfig, withRelayOptions } from './config.ts';
import { addModel, readRelayCatalogue } from '#node/models/catalogue-store.ts';
import type { ResourcesChange } from './resources-command.ts';

type Options = Parameters<typeof toRelayConfig>[0];

const program = withRelayOptions(new Command('relay'))
  .description('AI Compute Network relay: serves the app, signals WebRTC, keeps the ledger, runs heavy jobs.')
  .showHelpAfterError('(run with --help for every option)')
  .action(async (options: Options) => {
    const config = toRelayConfig(options);
    if (config.appBuild === 'auto') {
      const { ensureAppBuilt } = await import('./app-build.ts');
      await ensureAppBuilt({
        onBuild: () => process.stdout.write('Building the app (first start, or its sources changed)…\n'),
      });
    }
    const { runRelay } = await import('./run.ts');
    await runRelay(config);
  });

const models = program.command('models').description("manage this relay's model catalogue");

models
  .command('add')
  .description('add an ONNX model (it runs through the generic tensor pipeline)')
  .argument('<file>', 'the .onnx file')
  .requiredOption('--name <name>', 'name shown in the catalogue')
  .requiredOption('--price <tokens>', 'price per unit of work', (v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('--price must be a whole number of tokens.');
    return n;
  })
  .requiredOption('--license <spdx>', 'SPDX license id of the weights, e.g. MIT or Apache-2.0')
  .requiredOption('--source <text>', 'where the model comes from')
  .option('--version <version>', 'model version', '1')
  .option('--description <text>', 'one line about what it does')
  .option('--unit <text>', 'what one unit of work is', '1 MB of input')
  .addOption(new Option('--size-class <class>', 'where it may run').choices(SIZE_CLASSES).default('desktop'))
  .action(async (file: string, opts: Record<string, string | number>, command: Command) => {
    const config = toRelayConfig(command.optsWithGlobals<Options>());
    const bytes = new Uint8Array(await readFile(file));
    const entry = await addModel(join(config.dataDir, 'models'), bytes, {
      name: String(opts.name),
      pricePerUnit: Number(opts.price),
      license: { spdx: String(opts.license), source: String(opts.source) },
      version: String(opts.version),
      unit: String(opts.unit),
      sizeClass: opts.sizeClass as (typeof SIZE_CLASSES)[number],
      ...(opts.description === undefined ? {} : { description: String(opts.description) }),
    });
    process.stdout.write(`added ${entry.name} ${entry.version}: ${entry.id}\n`);
  });

models
  .command('list')
  .description('list the models this relay offers')
  .action(async (_opts: unknown, command: Command) => {
    const config = toRelayConfig(command.optsWithGlobals<Options>());
    const catalogue = await readRelayCatalogue(join(config.dataDir, 'models'));
    if (catalogue.models.length === 0)
      process.stdout.write('no models yet: start the relay once to build the shipped ones\n');
    for (const m of catalogue.models) {
      process.stdout.write(
        `${m.id.slice(0, 12)}  ${m.kind.padEnd(20)} ${m.name} ${m.version} (${m.sizeClass}, ${m.price.perUnit}/${m.price.unit})\n`,
      );
    }
  });

program
  .command('ledger')
  .description('the ledger')
  .command('verify')
  .description('replay the whole chain: every signature, hash, Merkle root and balance')
  .action(async (_opts: unknown, command: Command) => {
    const config = toRelayConfig(command.optsWithGlobals<Options>());
    const { createSqliteLedgerStore } = await import('./ledger/sqlite-store.ts');
    const { verifyLedger } = await import('./ledger/verify-ledger.ts');
    const { LEDGER_FILE } = await import('./run.ts');
    const store = createSqliteLedgerStore({ path: join(config.dataDir, LEDGER_FILE) });
    try {
      const report = await verifyLedger(store);
      process.stdout.write(
        `${report.ok ? 'ledger ok' : 'LEDGER INVALID'}: height ${report.height}, ${report.txCount} transactions, supply ${report.supply}\n`,
      );
      for (const problem of report.problems) process.stdout.write(`  ${JSON.stringify(problem)}\n`);
      if (!report.ok) process.exitCode = 2;
    } finally {
      await store.close();
    }
  });

const percent = (name: keyof typeof CUSTOM_RANGES) => (value: string) => {
  const n = Number(value);
  const [min, max] = CUSTOM_RANGES[name];
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`--${name} must be a whole percent from ${min} to ${max}.`);
  }
  return n;
};
/** The running relay's URL: --url, or this configuration's own address. */
const relayUrl = async (command: Command): Promise<{ url: string; config: ReturnType<typeof toRelayConfig> }> => {
  const options = command.optsWithGlobals<Options & { url?: string }>();
  const config = toRelayConfig(options);
  const { localRelayUrl } = await import('./resources-command.ts');
  return { url: (options.url ?? localRelayUrl(config)).replace(/\/$/, ''), config };
};

const resources = program
  .command('resources')
  .description("the running relay's own pool: how much of this machine it uses")
  .option('--url <url>', 'the running relay (default: this --host and --port)');

resources
  .command('show')
  .description('print the allocation and the pool it gives')
  .action(async (_opts: unknown, command: Command) => {
    const { url } = await relayUrl(command);
    const { describeResources, showResources } = await import('./resources-command.ts');
    process.stdout.write(`${describeResources(await showResources(url))}\n`);
  });

resources
  .command('set')
  .description('change it live, signed with the relay key from --data-dir (only the operator holds it)')
  .addOption(new Option('--preset <name>', 'a preset').choices(PRESET_NAMES))
  .option('--cpu <percent>', 'percent of CPU time (others stay as they are)', percent('cpu'))
  .option('--ram <percent>', 'percent of memory', percent('ram'))
  .option('--storage <percent>', 'percent of free storage', percent('storage'))
  .option('--gpu <percent>', 'percent of the GPU', percent('gpu'))
  .action(async (opts: ResourcesChange, command: Command) => {
    const { url, config } = await relayUrl(command);
    const { describeResources, setResources } = await import('./resources-command.ts');
    const answer = await setResources(config.dataDir, url, opts);
    process.stdout.write(`${describeResources(answer)}\n`);
  });

try {
  await program.parseAsync();
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`relay: ${message}\n`);
  process.exitCode = 1;
}
