'use strict'

// A panic in the native code never crosses into Node (where it would abort the host process):
// every entry point catches it and throws an Error with the stable code 'InternalError'.
// `__testPanic` is a hidden, test-only entry point that panics inside the same guard.

const test = require('node:test')
const assert = require('node:assert/strict')

const ours = require('..')

test('a panic in an entry point becomes an Error with code InternalError', () => {
  assert.equal(typeof ours.__testPanic, 'function')
  for (let i = 0; i < 3; i++) {
    assert.throws(() => ours.__testPanic(), (error) => {
      assert.ok(error instanceof Error)
      assert.equal(error.code, 'InternalError')
      assert.match(error.message, /internal error in __testPanic: test panic trigger/)
      return true
    })
  }
  // The binding keeps working after a caught panic.
  assert.equal(ours.normalizeJson('{"b":1,"a":2}'), '{"a":2,"b":1}')
})
