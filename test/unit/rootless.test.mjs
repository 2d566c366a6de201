// What hako says when the host refuses user namespaces to users without root, for each setting
// that can (read from given values: the host's own are not changed by a unit test), and the map
// writing's choices (root writes every file; others their own ids after setgroups "deny", or
// newuidmap/newgidmap for wider maps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { userNsRestriction, userNsRefusal } from '../../dist/src/runtime/rootless.js';
import { deniesSetgroups, mapActions } from '../../dist/src/runtime/idmaps.js';

const sysctls = (values) => (file) => values[file];

test('each host setting that refuses user namespaces is named with its fix', () => {
  assert.match(userNsRestriction(sysctls({ '/proc/sys/kernel/unprivileged_userns_clone': '0' })), /kernel\.unprivileged_userns_clone = 0\): allow them with `sysctl -w kernel\.unprivileged_userns_clone=1`/);
  assert.match(userNsRestriction(sysctls({ '/proc/sys/kernel/apparmor_restrict_unprivileged_userns': '1' })), /AppArmor .*kernel\.apparmor_restrict_unprivileged_userns = 1\): give hako's helper a profile with `userns,`/);
  assert.match(userNsRestriction(sysctls({ '/proc/sys/user/max_user_namespaces': '0' })), /user\.max_user_namespaces = 0/);
  assert.equal(userNsRestriction(sysctls({ '/proc/sys/kernel/unprivileged_userns_clone': '1', '/proc/sys/user/max_user_namespaces': '100' })), undefined);
  // only for a refused unshare of a user namespace
  assert.equal(userNsRefusal({ op: 'mount', errname: 'EPERM' }, 'unshare(CLONE_NEWUSER)'), undefined);
  assert.equal(userNsRefusal({ op: 'unshare', errname: 'EINVAL' }, 'unshare(CLONE_NEWUSER)'), undefined);
  assert.equal(userNsRefusal({ op: 'unshare', errname: 'EPERM' }, 'unshare(CLONE_NEWNET)'), undefined);
});

test('the id maps: root writes them; a user its own ids after setgroups deny, newuidmap/newgidmap for more', () => {
  const own = { uid: [{ inside: 0, outside: 1000, count: 1 }], gid: [{ inside: 0, outside: 1000, count: 1 }] };
  const root = mapActions(own, { privileged: true, euid: 0, egid: 0 });
  assert.deepEqual(root.map((a) => a.kind === 'write' ? a.file : a.name), ['uid_map', 'gid_map']);
  assert.equal(deniesSetgroups(root), false);
  const user = mapActions(own, { privileged: false, euid: 1000, egid: 1000 });
  assert.deepEqual(user.map((a) => a.kind === 'write' ? a.file : a.name), ['setgroups', 'uid_map', 'gid_map']);
  assert.equal(deniesSetgroups(user), true);
  const wide = { uid: [...own.uid, { inside: 1, outside: 100000, count: 65536 }], gid: [...own.gid, { inside: 1, outside: 100000, count: 65536 }] };
  const tools = mapActions(wide, { privileged: false, euid: 1000, egid: 1000 });
  assert.deepEqual(tools.map((a) => a.kind === 'write' ? a.file : a.name), ['newuidmap', 'newgidmap']);
  assert.equal(deniesSetgroups(tools), false);
});
