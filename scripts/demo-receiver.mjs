// `npm run demo`'s webhook receiver: the `releases` notification channel posts here, so the
// example's notify stage delivers without leaving the machine. Listens on 127.0.0.1 (a free
// port, written to PORT_FILE once it listens) and appends each message's subject and body to
// LOG_FILE, one line each. Signatures are not checked: it only shows what arrived.
// Usage: node scripts/demo-receiver.mjs PORT_FILE LOG_FILE
import { appendFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';

const [portFile, logFile] = process.argv.slice(2);
if (!portFile || !logFile) {
  console.error('usage: node scripts/demo-receiver.mjs PORT_FILE LOG_FILE');
  process.exit(2);
}
const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    if (body.length < 65536) body += chunk;
  });
  req.on('end', () => {
    let line = body;
    try {
      const { data } = JSON.parse(body);
      line = `${data.subject}\n  ${data.body}`;
    } catch {
      // not Dockyard's JSON: kept as it came
    }
    appendFileSync(logFile, `${new Date().toISOString()} ${req.headers['webhook-id'] ?? '-'} ${line}\n`);
    res.writeHead(204).end();
  });
});
server.listen(0, '127.0.0.1', () => writeFileSync(portFile, `${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
