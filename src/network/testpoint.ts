// Test-only: HAKO_TEST_KILL_AT=NAME makes hako SIGKILL itself when it reaches the step NAME (the
// tests of delete --force after a crash in the middle of create). Read here only.
export function testKillPoint(name: string): void {
  if (process.env.HAKO_TEST_KILL_AT === name) process.kill(process.pid, 'SIGKILL');
}
