'use strict'

// Differential fuzzer: our addon against the published `@use-tusk/drift-core-node` (npm alias
// `published-core`). Seeded generators make JSON texts aimed at the places where readings differ
// (numbers of every shape, escapes and surrogates, duplicate keys, nesting near the 127/128
// limit, merge rules of every shape, bodies plain and base64 full of numbers) and every published
// function is called on both sides. Results must be equal (text, hashes and Struct bytes byte for
// byte; spans and export requests by decoding, since the published builder writes schema
// `properties` in hash-map order); errors must meet errors with the same message.
//
//   node bindings/node/test/fuzz-differential.js --seed 1 --comparisons 1000000
//
// `scripts/fuzz-differential.sh` runs it with a random seed; `fuzz-differential.test.js` is the
// short fixed-seed pass CI runs. Every disagreement found becomes a golden (`FUZZ_FOUND` in
// tests/golden/regenerate.py).

const ours = require('..')
const published = require('published-core')
const { decodeSpan, decodeExportRequest } = require('./helpers.js')
const { isDeepStrictEqual } = require('node:util')

/** mulberry32: a small seeded generator (deterministic for a given seed). */
function rng(seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1))
  const pick = (arr) => arr[Math.floor(next() * arr.length)]
  return { next, int, pick }
}

class Gen {
  constructor(seed) {
    this.r = rng(seed)
  }

  digits(n) {
    const { int } = this.r
    let s = String(int(1, 9))
    for (let i = 1; i < n; i += 1) s += String(int(0, 9))
    return s
  }

  number() {
    const { next, int, pick } = this.r
    const k = next()
    const sign = next() < 0.3 ? '-' : ''
    if (k < 0.15) {
      return sign + pick(['0', '1', '7', '42', '1000', '9007199254740992', '9007199254740993', '9223372036854775807',
        '9223372036854775808', '18446744073709551615', '18446744073709551616'])
    }
    if (k < 0.35) return sign + this.digits(int(15, 18)) + pick(['e', 'E']) + pick(['', '+', '-']) + int(0, 330)
    if (k < 0.5) return sign + this.digits(int(19, 40))
    if (k < 0.65) {
      // shortest text of a random double
      const buf = Buffer.alloc(8)
      for (;;) {
        buf.writeUInt32LE(int(0, 0xffffffff), 0)
        buf.writeUInt32LE(int(0, 0xffffffff), 4)
        const f = buf.readDoubleLE(0)
        if (Number.isFinite(f)) return String(f)
      }
    }
    if (k < 0.75) {
      let frac = ''
      for (let i = int(1, 20); i > 0; i -= 1) frac += String(int(0, 9))
      return sign + this.digits(int(1, 20)) + '.' + frac
    }
    if (k < 0.85) return sign + int(1, 999) + 'e' + int(-340, 310)
    if (k < 0.93) return sign + int(0, 1e6) + (next() < 0.5 ? '.' + int(0, 999) : '')
    return pick(['1E400', '-1e400', '01', '1.', '.5', '+1', '1e', '-', '0.0e0', '-0', '-0.0', '5e-324', '2.4e-324'])
  }

  stringBody() {
    const { next, int, pick } = this.r
    let s = ''
    for (let n = int(0, 6); n > 0; n -= 1) {
      const k = next()
      if (k < 0.35) s += pick(['a', 'body', 'key', 'x y', 'é', '😀', '\u2028', '/', 'ﬀ', 'Z', '0'])
      else if (k < 0.6) s += pick(['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t'])
      else if (k < 0.8) {
        s += '\\u' + pick([0, 1, 0x1f, 0x7f, 0xe9, 0x2028, 0xffff, 0xd83d, 0xde00, int(0, 0xffff)]).toString(16).padStart(4, '0')
      } else if (k < 0.9) s += next() < 0.7 ? '\\ud83d\\ude00' : '\\ud800\\u0041'
      else s += pick(['\x01', '\t', '\\x', '\\u12', '\x7f'])
    }
    return s
  }

  key() {
    return this.r.next() < 0.6 ? this.r.pick(['a', 'b', 'body', 'A', '', 'é', 'z', 'aa', '😀', 'ﬀ']) : this.stringBody()
  }

  valueText(depth) {
    const { next, int, pick } = this.r
    const k = next()
    if (depth > 4 || k < 0.45) {
      const s = next()
      if (s < 0.55) return this.number()
      if (s < 0.8) return '"' + this.stringBody() + '"'
      return pick(['null', 'true', 'false'])
    }
    const ws = pick(['', '', ' ', '\n\t'])
    if (k < 0.7) {
      const items = []
      for (let n = int(0, 5); n > 0; n -= 1) items.push(this.valueText(depth + 1))
      return '[' + ws + items.join(',' + ws) + ']'
    }
    const keys = []
    for (let n = int(0, 5); n > 0; n -= 1) keys.push(this.key())
    if (keys.length && next() < 0.3) keys.push(pick(keys)) // duplicate: the last one wins
    return '{' + keys.map((key) => `"${key}"${ws}:${this.valueText(depth + 1)}`).join(',') + '}'
  }

  nestedText() {
    const { pick } = this.r
    const n = pick([126, 127, 127, 128, 128, 129])
    const opener = pick(['[', '{"a":', '[{"k":'])
    if (opener === '[{"k":') {
      const half = n >> 1
      return opener.repeat(half) + pick(['1', '[]', '{}']) + '}]'.repeat(half)
    }
    return opener.repeat(n) + (opener === '[' ? '' : this.number()) + (opener === '[' ? ']' : '}').repeat(n)
  }

  mutate(text) {
    const { next, int, pick } = this.r
    if (!text) return text
    const i = int(0, text.length - 1)
    const k = next()
    if (k < 0.33) return text.slice(0, i)
    if (k < 0.66) return text.slice(0, i) + pick([',', ']', '}', '"', '\\', '1', ' ', 'e', '-', '\0']) + text.slice(i)
    return text.slice(0, i) + text.slice(i + 1)
  }

  text() {
    const k = this.r.next()
    if (k < 0.08) return this.nestedText()
    const t = this.valueText(0)
    return k < 0.2 ? this.mutate(t) : t
  }

  ruleText() {
    const { next, pick, int } = this.r
    const elems = ['1', '1', '0', '2', 'null', '-1', '0.5', '1.0', '1e400', '"x"', 'true', '[]', '{}', '4294967297', '0.75']
    const k = next()
    if (k < 0.45) {
      const n = pick([0, 1, 2, 2, 3, 3, 4])
      const items = []
      for (let i = 0; i < n; i += 1) items.push(pick(elems))
      return '[' + items.join(',') + ']'
    }
    if (k < 0.85) {
      const fields = []
      for (const name of ['encoding', 'decoded_type', 'match_importance']) {
        if (next() < 0.6) fields.push(`"${name}":${next() < 0.7 ? pick(elems.slice(0, 6)) : pick(elems)}`)
      }
      if (next() < 0.1) fields.push('"other":[1,{"x":2}]')
      if (fields.length && next() < 0.05) fields.push(fields[0])
      for (let i = fields.length - 1; i > 0; i -= 1) {
        const j = int(0, i)
        ;[fields[i], fields[j]] = [fields[j], fields[i]]
      }
      return '{' + fields.join(',') + '}'
    }
    return pick(['null', '1', '"x"', 'true', '[1,1', '[1,]', '{'])
  }

  body() {
    const { next, int } = this.r
    if (next() < 0.5) {
      const items = []
      for (let n = int(1, 12); n > 0; n -= 1) items.push(this.number())
      return '[' + items.join(',') + ']'
    }
    return next() < 0.5 ? this.number() : this.valueText(1)
  }

  payloadAndMerges() {
    const { next, pick } = this.r
    const members = []
    const rules = []
    const keys = ['body', 'a', 'b', 'q', 'é'].filter(() => next() < 0.5)
    if (!keys.length) keys.push('body')
    for (const key of keys) {
      const kind = next()
      const body = this.body()
      if (kind < 0.45) {
        members.push(`"${key}":"${Buffer.from(body, 'utf8').toString('base64')}"`)
        rules.push(`"${key}":${pick(['{"encoding":1,"decoded_type":1}', '[1,1]', '[1,1,0.5]', '[1]', this.ruleText()])}`)
      } else if (kind < 0.8) {
        members.push(`"${key}":${JSON.stringify(body)}`)
        rules.push(`"${key}":${pick(['{"decoded_type":1}', '[null,1]', '[0,1]', this.ruleText()])}`)
      } else {
        members.push(`"${key}":${this.valueText(1)}`)
        if (next() < 0.5) rules.push(`"${key}":${this.ruleText()}`)
      }
    }
    if (next() < 0.2) rules.push(`"${this.key()}":${this.ruleText()}`)
    const payload = '{' + members.join(',') + '}'
    let merges = '{' + rules.join(',') + '}'
    const k = next()
    if (k < 0.05) merges = this.mutate(merges)
    else if (k < 0.1) merges = undefined
    else if (k < 0.13) merges = pick(['null', '[]', '1', '[[1,1]]', ''])
    return [payload, merges]
  }

  schemaJson() {
    const { next, pick } = this.r
    if (next() < 0.15) return next() < 0.5 ? this.valueText(1) : this.mutate(this.valueText(1))
    const s = { type: pick([1, 2, 3, 4, 6, 7, 0, 99]) }
    if (next() < 0.5) s.properties = { [this.key().replace(/\\/g, '')]: { type: pick([1, 2, 6]) }, b: { type: 7, items: { type: 1 } } }
    if (next() < 0.2) s.encoding = pick([0, 1, 2])
    if (next() < 0.2) s.decoded_type = pick([0, 1, 7])
    if (next() < 0.2) s.match_importance = pick([0.5, 0, 1, 1e300])
    return JSON.stringify(s)
  }

  spanInput() {
    const { next, int, pick } = this.r
    const s = () => pick(['', 'abc', '4bf92f3577b34da6a3ce929d0e0e4736', 'é😀', 'x\0'])
    const maybeJson = () => (next() < 0.4 ? undefined : next() < 0.8 ? this.valueText(0) : this.mutate(this.valueText(0)))
    const structBytes = () => {
      const k = next()
      if (k < 0.6) return undefined
      if (k < 0.85) return published.objectToProtobufStructBytes('{"k":[1,"v",{"x":null}]}')
      const b = []
      for (let n = int(0, 6); n > 0; n -= 1) b.push(int(0, 255))
      return Buffer.from(b)
    }
    return {
      traceId: s(), spanId: s(), parentSpanId: s(), name: s(), packageName: s(), instrumentationName: s(), submoduleName: s(),
      packageType: next() < 0.2 ? pick([-1, 12, 42]) : int(0, 11),
      environment: pick([undefined, '', 'production']),
      kind: next() < 0.2 ? pick([-1, 6, 9]) : int(0, 5),
      inputSchemaJson: this.schemaJson(), outputSchemaJson: this.schemaJson(),
      inputSchemaHash: s(), outputSchemaHash: s(), inputValueHash: s(), outputValueHash: s(),
      statusCode: next() < 0.2 ? pick([-1, 3]) : int(0, 2),
      statusMessage: s(), isPreAppStart: next() < 0.5, isRootSpan: next() < 0.5,
      timestampSeconds: pick([0, 1763700000, -5]), timestampNanos: pick([0, 123456789, -1]),
      durationSeconds: pick([0, 1, -3]), durationNanos: pick([0, 5000000, -999]),
      metadataJson: maybeJson(), inputValueJson: maybeJson(), outputValueJson: maybeJson(),
      inputValueProtoStructBytes: structBytes(), outputValueProtoStructBytes: structBytes(),
    }
  }

  /** One round of calls: [functionName, args]. */
  calls() {
    const { next, int, pick } = this.r
    const out = []
    const text = this.text()
    for (const fn of TEXT_FUNCTIONS) out.push([fn, [text]])
    if (next() < 0.3) out.push(['processExportPayload', [text]])
    const [payload, merges] = this.payloadAndMerges()
    out.push(['processExportPayload', merges === undefined ? [payload] : [payload, merges]])
    out.push(['normalizeJson', [payload]], ['deterministicHash', [payload]])
    if (next() < 0.15) out.push(['buildSpanProtoBytes', [this.spanInput()]])
    if (next() < 0.05) {
      const spans = []
      for (let n = int(0, 3); n > 0; n -= 1) {
        spans.push(Buffer.from(pick([[], [0x0a, 0x01, 0x61], [0xff], [0x0a, 0x02, 0xff, 0xfe], [0x42, 0x01]])))
      }
      out.push(['buildExportSpansRequestBytes', [pick(['svc', '', 'é']), 'env', '1.0', 'inst', spans]])
    }
    return out
  }
}

const TEXT_FUNCTIONS = ['normalizeJson', 'deterministicHash', 'normalizeAndHash', 'objectToProtobufStructBytes',
  'objectToProtobufStructFieldCount']

function outcome(api, fn, args) {
  try {
    return { ok: api[fn](...args) }
  } catch (error) {
    return { error: String(error && error.message) }
  }
}

function plain(value) {
  if (Buffer.isBuffer(value)) return { buffer: value.toString('base64') }
  if (value && typeof value === 'object') {
    const out = {}
    for (const key of Object.keys(value)) out[key] = plain(value[key])
    return out
  }
  return value
}

// Ours may add ` (span index N)` to an export request's span error; the published prefix is kept.
const SPAN_INDEX = / \(span index \d+\)$/

function sameMessage(mine, theirs) {
  return mine === theirs || (SPAN_INDEX.test(mine) && mine.replace(SPAN_INDEX, '') === theirs)
}

function same(fn, mine, theirs) {
  if ('error' in mine || 'error' in theirs) {
    return 'error' in mine && 'error' in theirs && sameMessage(mine.error, theirs.error)
  }
  if (fn === 'buildSpanProtoBytes') return isDeepStrictEqual(decodeSpan(mine.ok), decodeSpan(theirs.ok))
  if (fn === 'buildExportSpansRequestBytes') {
    return isDeepStrictEqual(decodeExportRequest(mine.ok), decodeExportRequest(theirs.ok))
  }
  return isDeepStrictEqual(plain(mine.ok), plain(theirs.ok))
}

/** Runs at least `comparisons` call pairs from `seed`; returns the figures and disagreements. */
function run(seed, comparisons, report) {
  const gen = new Gen(seed)
  const perFunction = {}
  const disagreements = []
  let done = 0
  while (done < comparisons) {
    for (const [fn, args] of gen.calls()) {
      const mine = outcome(ours, fn, args)
      const theirs = outcome(published, fn, args)
      perFunction[fn] = (perFunction[fn] || 0) + 1
      done += 1
      if (!same(fn, mine, theirs)) {
        disagreements.push({ fn, args: JSON.stringify(plain(args)).slice(0, 2000), ours: JSON.stringify(plain(mine)).slice(0, 500), published: JSON.stringify(plain(theirs)).slice(0, 500) })
      }
    }
    if (report) report(done)
  }
  return { seed, comparisons: done, perFunction, disagreements }
}

module.exports = { Gen, run }

if (require.main === module) {
  const args = process.argv.slice(2)
  const opt = (name, fallback) => {
    const i = args.indexOf(name)
    return i >= 0 ? Number(args[i + 1]) : fallback
  }
  const seed = opt('--seed', NaN)
  if (!Number.isInteger(seed)) throw new Error('--seed N is required')
  const comparisons = opt('--comparisons', 100000)
  const start = process.hrtime.bigint()
  const step = Math.max(Math.floor(comparisons / 10), 1)
  let nextMark = step
  const result = run(seed, comparisons, (done) => {
    if (done >= nextMark) {
      process.stderr.write(`[fuzz-node] seed ${seed}: ${done} comparisons\n`)
      nextMark += step
    }
  })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  for (const d of result.disagreements.slice(0, 20)) console.log('DISAGREEMENT', JSON.stringify(d))
  console.log(`node differential fuzz: seed ${seed}, ${result.comparisons} comparisons, ` +
    `${result.disagreements.length} disagreements, ${seconds.toFixed(0)} s; per function ${JSON.stringify(result.perFunction)}`)
  process.exitCode = result.disagreements.length ? 1 : 0
}
