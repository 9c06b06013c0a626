import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type LaunchProbes, LaunchError, resolveLaunch, whichIn } from '../../src/serverLaunch';

function probes(opts: {
  executables?: string[];
  importable?: string[];
  python?: string;
  onPath?: string;
}): LaunchProbes {
  const exe = new Set(opts.executables ?? []);
  return {
    isExecutable: async (f) => exe.has(f),
    which: async () => opts.onPath,
    canImportTexpaste: async (p) => (opts.importable ?? []).includes(p),
    pythonExtensionInterpreter: async () => opts.python,
  };
}

const none = { path: '', interpreter: '', extraArgs: [] };

test('the path setting wins, with extra args and no --stdio', async () => {
  const launch = await resolveLaunch(
    { ...none, path: '/v/bin/texpaste', extraArgs: ['-v'] },
    probes({ executables: ['/v/bin/texpaste'], onPath: '/usr/bin/texpaste' }),
    'linux',
  );
  assert.deepEqual(launch, {
    command: '/v/bin/texpaste',
    args: ['serve', '-v'],
    source: 'texpaste.server.path',
  });
});

test('a wrong path setting is an error naming the setting', async () => {
  await assert.rejects(
    resolveLaunch({ ...none, path: '/nope' }, probes({ onPath: '/usr/bin/texpaste' }), 'linux'),
    (e: unknown) => e instanceof LaunchError && /texpaste\.server\.path/.test(e.message),
  );
});

test('the interpreter setting runs python -m texpaste serve', async () => {
  const launch = await resolveLaunch(
    { ...none, interpreter: '/py/bin/python' },
    probes({ executables: ['/py/bin/python'] }),
    'linux',
  );
  assert.deepEqual(launch.args, ['-m', 'texpaste', 'serve']);
  assert.equal(launch.command, '/py/bin/python');
});

test('the Python extension: the sibling executable, else -m texpaste', async () => {
  const sibling = await resolveLaunch(
    none,
    probes({ python: '/env/bin/python', executables: ['/env/bin/texpaste'] }),
    'linux',
  );
  assert.deepEqual(sibling, {
    command: '/env/bin/texpaste',
    args: ['serve'],
    source: 'Python extension',
  });
  const module = await resolveLaunch(
    none,
    probes({ python: '/env/bin/python', importable: ['/env/bin/python'] }),
    'linux',
  );
  assert.deepEqual(module.args, ['-m', 'texpaste', 'serve']);
});

test('then PATH, else an actionable error', async () => {
  const onPath = await resolveLaunch(
    none,
    probes({ python: '/env/bin/python', onPath: '/usr/bin/texpaste' }),
    'linux',
  );
  assert.equal(onPath.source, 'PATH');
  await assert.rejects(resolveLaunch(none, probes({}), 'linux'), (e: unknown) => {
    assert.ok(e instanceof LaunchError);
    assert.match(e.message, /pip install texpaste/);
    assert.match(e.message, /texpaste\.server\.path/);
    return true;
  });
});

test('whichIn scans PATH entries in order', async () => {
  const found = await whichIn(
    'texpaste',
    '/a::/b:/c',
    async (f) => f === '/b/texpaste' || f === '/c/texpaste',
    ':',
  );
  assert.equal(found, '/b/texpaste');
  assert.equal(await whichIn('texpaste', undefined, async () => true, ':'), undefined);
});
