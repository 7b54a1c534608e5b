# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-only
"""
Salt execution module for cnf-apply: converge a host's eBPF attachments.

Copy to the file roots' ``_modules/`` (``salt '*' saltutil.sync_modules``).
Every function runs ``cnf-apply --json`` on the minion through
``cmd.run_all`` and returns the tool's JSON document (plus ``retcode``);
an error of the tool raises CommandExecutionError with its message.

.. code-block:: bash

    salt '*' cnf_apply.plan /etc/cnf.d
    salt '*' cnf_apply.apply /etc/cnf.d
    salt '*' cnf_apply.status /etc/cnf.d bpffs=/sys/fs/bpf/cnf
    salt '*' cnf_apply.destroy /etc/cnf.d
"""
from __future__ import absolute_import, print_function, unicode_literals

import json
import os

try:
    from salt.exceptions import CommandExecutionError
except ImportError:  # loaded outside Salt (the project's tests)
    class CommandExecutionError(Exception):
        """salt.exceptions.CommandExecutionError, when Salt is not installed."""

__virtualname__ = 'cnf_apply'

DEFAULT_BINARY = 'cnf-apply'
SEARCH_DIRS = ('/usr/sbin', '/usr/local/sbin')
# Exit status: 0 nothing to change, 2 differences found (plan, status) or
# changes made, 1 error.
EXIT_OK = 0
EXIT_CHANGES = 2


def _find_binary(binary=None):
    name = binary or DEFAULT_BINARY
    if '/' in name:
        return name if os.access(name, os.X_OK) else None
    for d in os.environ.get('PATH', '').split(os.pathsep) + list(SEARCH_DIRS):
        path = os.path.join(d, name)
        if d and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def __virtual__():
    if _find_binary() is None:
        return (False, 'cnf_apply: the cnf-apply binary is not installed '
                       '(or pass binary= to every call)')
    return __virtualname__


def _paths(paths):
    if paths is None:
        return ['/etc/cnf.d']
    if isinstance(paths, (list, tuple)):
        return [str(p) for p in paths]
    return [p.strip() for p in str(paths).split(',') if p.strip()]


def _run(args, bpffs=None, binary=None, wait=None):
    """cnf-apply --json [--bpffs B] ARGS; the document, with retcode."""
    path = _find_binary(binary)
    if path is None:
        raise CommandExecutionError("cnf-apply binary '%s' not found or not executable"
                                    % (binary or DEFAULT_BINARY))
    cmd = [path, '--json']
    if bpffs:
        cmd += ['--bpffs', bpffs]
    if wait is not None:
        cmd += ['--wait', str(int(wait))]
    cmd += args
    res = __salt__['cmd.run_all'](cmd, python_shell=False, ignore_retcode=True)
    try:
        doc = json.loads(res.get('stdout') or '')
    except ValueError:
        doc = None
    if res.get('retcode') not in (EXIT_OK, EXIT_CHANGES) or not isinstance(doc, dict) \
            or 'error' in doc:
        msg = (doc or {}).get('error') if isinstance(doc, dict) else None
        errors = (doc or {}).get('errors', []) if isinstance(doc, dict) else []
        for e in errors:
            if 'rolled back' in e or 'rolling them back failed' in e:
                msg = '%s (%s)' % (msg, e)
                break
        raise CommandExecutionError(msg or (res.get('stderr') or '').strip()
                                    or 'cnf-apply exited with status %s' % res.get('retcode'))
    doc['retcode'] = res['retcode']
    return doc


def _has_manifests(path):
    if not os.path.isdir(path):
        return os.path.exists(path)
    return any(f.endswith(('.yaml', '.yml')) for f in os.listdir(path))


def _orphans(paths, bpffs=None, binary=None):
    """Manifests last applied from within the directories of paths that
    they no longer declare: in status, not in validate."""
    dirs = [p for p in paths if os.path.isdir(p) and _has_manifests(p)]
    if not dirs:
        return []
    listed = set(a['manifest'] for a in _run(['status'] + dirs, bpffs, binary)['attachments'])
    declared = set(m['name'] for m in _run(['validate'] + dirs, bpffs, binary)['manifests'])
    return sorted(listed - declared)


def plan(paths=None, bpffs=None, binary=None, destroy=False):
    """
    What apply (destroy=True: destroy) would do; changes nothing.

    .. code-block:: bash

        salt '*' cnf_apply.plan /etc/cnf.d
    """
    return _run(['plan'] + (['--destroy'] if destroy else []) + _paths(paths), bpffs, binary)


def apply(paths=None, bpffs=None, binary=None, test=False):
    """
    Converge the attachments to the manifests (test=True: plan).

    .. code-block:: bash

        salt '*' cnf_apply.apply /etc/cnf.d
    """
    if test:
        return plan(paths, bpffs, binary)
    return _run(['apply'] + _paths(paths), bpffs, binary)


def status(paths=None, bpffs=None, binary=None):
    """
    Desired vs live for every attachment instance (in-sync, missing,
    drifted, defunct, orphaned) and foreign programs on managed hooks.

    .. code-block:: bash

        salt '*' cnf_apply.status /etc/cnf.d
    """
    return _run(['status'] + _paths(paths), bpffs, binary)


def destroy(paths=None, bpffs=None, binary=None, test=False, orphans=True):
    """
    Remove everything the manifests own and, with orphans=True, what the
    manifests last applied from within their directories and no longer
    there own (test=True: plan --destroy, the same actions).

    .. code-block:: bash

        salt '*' cnf_apply.destroy /etc/cnf.d
    """
    paths = [p for p in _paths(paths) if _has_manifests(p)]
    gone = _orphans(paths, bpffs, binary) if orphans else []
    verb = ['plan', '--destroy'] if test else ['destroy']
    doc = _run(verb + paths, bpffs, binary) if paths else {'changed': False, 'actions': [],
                                                          'retcode': EXIT_OK}
    if gone:
        targets = []
        for m in gone:
            targets += ['--target', m]
        more = _run(verb + ['--all'] + targets, bpffs, binary)
        doc['actions'] = doc.get('actions', []) + more.get('actions', [])
        doc['changed'] = bool(doc.get('changed') or more.get('changed'))
    doc['orphans'] = gone
    return doc
