// A local Bluesky for the tests: the reference PDS, AppView and PLC directory that
// atproto's own tests use (@atproto/dev-env's TestNetwork), in one process.
//
// Started by tests/integration/listener/bluesky_network.py with the Node 22 and the
// packages that .ci/run installs from tests/atproto/package-lock.json. It prints one
// JSON line when the network is up ({"pds": url, "appview": url}); then each line read
// from stdin is a command, answered with one JSON line:
//   "sync"  wait until the AppView has indexed everything the PDS wrote (the AppView
//           reads the PDS's firehose on its own; this makes a test's wait exact).
//   "close" shut the network down and exit (end of stdin does the same).
// Its database is the PostgreSQL at DB_POSTGRES_URL, in schemas named after
// DB_POSTGRES_SCHEMA (the tests drop them after); Redis at REDIS_HOST.
import path from 'node:path'
import readline from 'node:readline'
import { pathToFileURL } from 'node:url'

const where = process.env.ATPROTO_NODE_MODULES
if (!where) throw new Error('ATPROTO_NODE_MODULES must name the installed node_modules')
const entry = path.join(where, '@atproto', 'dev-env', 'dist', 'index.js')
const { TestNetwork } = await import(pathToFileURL(entry).href)

const say = (message) => process.stdout.write(JSON.stringify(message) + '\n')

const network = await TestNetwork.create({
  dbPostgresSchema: process.env.DB_POSTGRES_SCHEMA,
  pds: { hostname: 'localhost' },
})
say({ pds: network.pds.url, appview: network.bsky.url, plc: network.plc.url })

let closing = null
const close = () => {
  closing ??= network
    .close()
    .catch((err) => process.stderr.write(`close: ${err?.stack ?? err}\n`))
    .finally(() => process.exit(0))
  return closing
}
process.on('SIGTERM', close)
process.on('SIGINT', close)

const lines = readline.createInterface({ input: process.stdin })
for await (const line of lines) {
  const command = line.trim()
  if (command === 'sync') {
    try {
      await network.processAll(10_000)
      say({ ok: 'sync' })
    } catch (err) {
      say({ error: String(err?.message ?? err) })
    }
  } else if (command === 'close') {
    break
  } else if (command) {
    say({ error: `unknown command ${command}` })
  }
}
await close()
