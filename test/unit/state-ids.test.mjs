// Container id validation, as runc's libcontainer validateID.
import test from 'node:test';
import assert from 'node:assert/strict';
import { checkContainerId, isValidContainerId, containerIdProblem, MAX_CONTAINER_ID_LENGTH } from '../../dist/src/runtime/ids.js';

test('ids runc accepts are accepted', () => {
  const valid = [
    'a', 'abc', 'A-Z_0.9+x', '...', '.hidden', 'a..b', 'a.', '-', '+', '_', '-rm',
    'f'.repeat(64), 'x'.repeat(MAX_CONTAINER_ID_LENGTH),
    'podman-4f3a2c1b', 'k8s_POD_nginx_default_0+1',
  ];
  for (const id of valid) {
    assert.equal(checkContainerId(id), id, id);
    assert.equal(isValidContainerId(id), true, id);
    assert.equal(containerIdProblem(id), undefined, id);
  }
});

test('ids runc refuses are refused, with the reason on one line', () => {
  const cases = [
    ['', "hako: invalid container id '': an id must not be empty"],
    ['.', "hako: invalid container id '.': '.' does not name a directory"],
    ['..', "hako: invalid container id '..': '..' does not name a directory"],
    ['a/b', "hako: invalid container id 'a/b': '/' is not allowed (only letters, digits, '_', '+', '-' and '.')"],
    ['/abs', "hako: invalid container id '/abs': '/' is not allowed (only letters, digits, '_', '+', '-' and '.')"],
    ['../x', "hako: invalid container id '../x': '/' is not allowed (only letters, digits, '_', '+', '-' and '.')"],
    ['a b', "hako: invalid container id 'a b': a space is not allowed (only letters, digits, '_', '+', '-' and '.')"],
    ['a:b', "hako: invalid container id 'a:b': ':' is not allowed (only letters, digits, '_', '+', '-' and '.')"],
    ['a@b', "hako: invalid container id 'a@b': '@' is not allowed (only letters, digits, '_', '+', '-' and '.')"],
    ["it's", `hako: invalid container id 'it's': "'" is not allowed (only letters, digits, '_', '+', '-' and '.')`],
    ['a\nb', "hako: invalid container id 'a\\x0ab': '\\x0a' is not allowed (only letters, digits, '_', '+', '-' and '.')"],
    ['\u00e9t\u00e9', "hako: invalid container id '\u00e9t\u00e9': '\u00e9' is not allowed (only letters, digits, '_', '+', '-' and '.')"],
    ['x'.repeat(256), `hako: invalid container id '${'x'.repeat(77)}...': 256 characters, the limit is 255`],
  ];
  for (const [id, message] of cases) {
    assert.equal(isValidContainerId(id), false, JSON.stringify(id));
    assert.throws(() => checkContainerId(id), (e) => {
      assert.equal(e.name, 'HakoError');
      assert.equal(e.exitCode, 1);
      assert.equal(e.message, message);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    }, JSON.stringify(id));
  }
});

test("',' is refused (runc 1.1's regexp let it through by accident; runc 1.2 spells the set out)", () => {
  assert.equal(isValidContainerId('a,b'), false);
  // the regexp runc 1.1 used, read as JavaScript reads it, shows the accident
  assert.equal(/^[\w+-\.]+$/.test('a,b'), true);
});

test('ids that are not strings are refused', () => {
  for (const id of [undefined, null, 5, {}, ['a']]) {
    assert.equal(isValidContainerId(id), false);
    assert.throws(() => checkContainerId(id), /^HakoError: hako: invalid container id '.*': an id must be a string$/);
  }
});
