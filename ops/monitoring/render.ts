// `node --import tsx ops/monitoring/render.ts --dir DIR --alertmanager HOST:PORT --pushgateway HOST:PORT
//   [--scrape HOST:PORT]... [--receiver URL --receiver-token-file FILE]`: writes prometheus.yml,
// rules/ and alertmanager.yml into DIR (render-config.ts: ops' files, 1 s intervals), for
// `npm run demo`, which starts the three daemons itself so that `npm run demo -- stop` can stop them.
import { parseArgs } from 'node:util';
import { renderMonitoringConfig } from './render-config';

const USAGE =
  'usage: render.ts --dir DIR --alertmanager HOST:PORT --pushgateway HOST:PORT [--scrape HOST:PORT]... ' +
  '[--receiver URL --receiver-token-file FILE]';

function main(): void {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      alertmanager: { type: 'string' },
      pushgateway: { type: 'string' },
      scrape: { type: 'string', multiple: true },
      receiver: { type: 'string' },
      'receiver-token-file': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  for (const need of ['dir', 'alertmanager', 'pushgateway'] as const)
    if (!values[need]) throw new Error(`--${need} is missing; ${USAGE}`);
  const out = renderMonitoringConfig({
    dir: values.dir!,
    alertmanagerAddress: values.alertmanager!,
    pushgatewayAddress: values.pushgateway!,
    scrapeTargets: values.scrape ?? [],
    receiverUrl: values.receiver,
    receiverTokenFile: values['receiver-token-file'],
  });
  process.stdout.write(`${out.prometheusConfig}\n${out.alertmanagerConfig}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`render.ts: ${(err as Error).message}\n`);
  process.exit(2);
}
