#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Run the Salt modules of contrib/salt/ without Salt (not packaged in
Debian 12), the way Salt's own unit tests do: each module is loaded from
its file and given the globals Salt's loader injects, with real
implementations behind them:

  __salt__    for the state module, the execution module's functions as
              cnf_apply.<name>; for the execution module, cmd.run_all,
              running the command with subprocess as Salt's does
              (python_shell=False: an argument list, no shell)
  __opts__    {"test": ...} as Salt passes test=True
  __context__ an empty dict

So the real cnf-apply runs against the real kernel; only Salt's loader,
its minion and its renderers are not involved.

  salt_harness.py module FUNCTION ARGS_JSON            -> the return value, as JSON
  salt_harness.py state FUNCTION ARGS_JSON [--test]    -> the state's return dict
  salt_harness.py virtual                              -> both modules' __virtual__()

An exception from an execution function prints {"exception": CLASS, "message": ...}."""
import importlib.util
import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'contrib', 'salt')


def cmd_run_all(cmd, python_shell=False, ignore_retcode=False, **kwargs):
    """Salt's cmd.run_all: {"pid", "retcode", "stdout", "stderr"}."""
    if python_shell or not isinstance(cmd, list):
        raise ValueError('the module must pass an argument list with python_shell=False')
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return {'pid': 0, 'retcode': p.returncode, 'stdout': p.stdout.rstrip('\n'),
            'stderr': p.stderr.rstrip('\n')}


def load(kind, salt, opts):
    path = os.path.join(ROOT, '_%s' % kind, 'cnf_apply.py')
    spec = importlib.util.spec_from_file_location('cnf_apply_%s' % kind, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.__salt__ = salt
    mod.__opts__ = opts
    mod.__context__ = {}
    return mod


def loaded(test=False):
    opts = {'test': test}
    exe = load('modules', {'cmd.run_all': cmd_run_all}, opts)
    funcs = dict(('cnf_apply.%s' % n, getattr(exe, n)) for n in ('apply', 'plan', 'status', 'destroy'))
    st = load('states', funcs, opts)
    return exe, st


def main(argv):
    test = '--test' in argv
    argv = [a for a in argv if a != '--test']
    exe, st = loaded(test)
    if argv[0] == 'virtual':
        print(json.dumps({'module': exe.__virtual__(), 'state': st.__virtual__()}))
        return 0
    kind, func, args = argv[0], argv[1], json.loads(argv[2])
    target = exe if kind == 'module' else st
    try:
        out = getattr(target, func)(**args)
    except Exception as e:  # what Salt would report for an execution function
        out = {'exception': type(e).__name__, 'message': str(e)}
    print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
