// parseConfig: malformed JSON is reported with V8's reason and the line and column where it went wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../dist/src/config/validate.js';
import { jsonErrorOffset } from '../../dist/src/config/json-position.js';

function message(text) {
  try {
    parseConfig(text);
  } catch (err) {
    return err.message;
  }
  assert.fail('expected an error');
}

test('a missing value: the position V8 leaves out is found', () => {
  assert.equal(message('{"ociVersion":}'), "hako: config.json: not valid JSON: Unexpected token '}' at line 1 column 15");
});

test('a missing comma on a later line', () => {
  const text = '{\n  "ociVersion": "1.2.0"\n  "root": {"path": "rootfs"}\n}';
  assert.equal(message(text), "hako: config.json: not valid JSON: Expected ',' or '}' after property value at line 3 column 3");
});

test('a trailing comma', () => {
  assert.equal(message('{\n "a": 1,\n}'), 'hako: config.json: not valid JSON: Expected double-quoted property name at line 3 column 1');
});

test('an empty file and a cut-off file end early', () => {
  assert.equal(message(''), 'hako: config.json: not valid JSON: Unexpected end of JSON input at line 1 column 1');
  assert.match(message('{\n"ociVersion": "1.2.0"'), / at line 2 column 22$/);
});

test('text after the document', () => {
  assert.equal(message('{}\n}'), 'hako: config.json: not valid JSON: Unexpected non-whitespace character after JSON at line 2 column 1');
});

test('a bad literal and a control character in a string', () => {
  assert.match(message('{"a": tru}'), /^hako: config.json: not valid JSON: .* at line 1 column 10$/);
  assert.match(message('{"a": "x\ny"}'), /^hako: config.json: not valid JSON: Bad control character in string literal at line 1 column 9$/);
});

test('the scanner agrees with JSON.parse about valid text', () => {
  for (const good of ['{}', '[]', '"s"', '-0.5e+3', 'null', ' {"a": [1, {"b": "\\u00e9\\n"}], "c": true } ']) {
    assert.doesNotThrow(() => JSON.parse(good));
    assert.equal(jsonErrorOffset(good), good.length);
  }
  for (const [bad, at] of [['{"a" 1}', 5], ['[1,]', 3], ['01', 1], ['"\\x"', 2], ['"\\u12G4"', 3], ['{"a":1', 6]]) {
    assert.throws(() => JSON.parse(bad));
    assert.equal(jsonErrorOffset(bad), at, bad);
  }
});

test('valid JSON goes on to validation', () => {
  assert.equal(message('{"root": {"path": "rootfs"}}'), 'hako: config.json: ociVersion: is required');
  assert.equal(parseConfig('{"ociVersion": "1.2.0", "root": {"path": "r"}}').root.path, 'r');
});
