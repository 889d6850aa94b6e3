// One load round for bench/side_by_side.py: autocannon posting GraphQL requests, cycling through the
// prepared ones. Latency is measured per request with a monotonic clock (autocannon's own histogram
// has whole milliseconds); a response with a status other than 200 or with "errors" counts as an error.
//
//   node autocannon_run.js <tools dir> <url> <requests.json> <connections> <seconds>
// requests.json: [{"body": "...", "headers": {...}}, ...]; prints one JSON object.

const path = require('path')
const fs = require('fs')

const [toolsDir, url, requestsFile, connections, seconds] = process.argv.slice(2)
const autocannon = require(path.join(toolsDir, 'node_modules', 'autocannon'))
const prepared = JSON.parse(fs.readFileSync(requestsFile, 'utf8'))

let next = 0
let errors = 0
let firstError = null
const latencies = []

autocannon(
  {
    url,
    connections: Number(connections),
    duration: Number(seconds),
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request, context) => {
          const chosen = prepared[next++ % prepared.length]
          context.sentAt = process.hrtime.bigint()
          return {
            ...request,
            body: chosen.body,
            headers: { ...request.headers, ...chosen.headers },
          }
        },
        onResponse: (status, body, context) => {
          if (context.sentAt !== undefined) {
            latencies.push(Number(process.hrtime.bigint() - context.sentAt) / 1e6)
          }
          if (status !== 200 || body.includes('"errors"')) {
            errors++
            if (firstError === null) firstError = `${status} ${body.slice(0, 300)}`
          }
        },
      },
    ],
  },
  (error, result) => {
    if (error) {
      console.error(error)
      process.exit(1)
    }
    console.log(
      JSON.stringify({
        seconds: Number(seconds),
        errors: errors + result.errors + result.timeouts,
        firstError,
        latencies,
      })
    )
  }
)
