# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-only
"""
Salt states for cnf-apply, on top of the execution module cnf_apply.

Copy to the file roots' ``_states/`` (``salt '*' saltutil.sync_states``).

.. code-block:: yaml

    edge-ebpf:
      cnf_apply.applied:
        - name: /etc/cnf.d
        - bpffs: /sys/fs/bpf/cnf

    old-ebpf:
      cnf_apply.absent:
        - name: /etc/cnf.d/20-old.yaml

``name`` is a manifest file or directory. With ``test=True`` the result is
None when something would change, with the pending changes in
``changes``; True when nothing would.
"""
from __future__ import absolute_import, print_function, unicode_literals

try:
    from salt.exceptions import CommandExecutionError
except ImportError:  # loaded outside Salt (the project's tests)
    CommandExecutionError = Exception

__virtualname__ = 'cnf_apply'


def __virtual__():
    if 'cnf_apply.apply' in __salt__:
        return __virtualname__
    return (False, 'cnf_apply state: the cnf_apply execution module is not available')


def _changes(doc):
    """{"MANIFEST/ATTACHMENT TARGET": {"action", "reason", ...}} of what
    changes (or would)."""
    out = {}
    for a in doc.get('actions', []):
        if a.get('action') == 'noop':
            continue
        key = '%s/%s %s' % (a.get('manifest'), a.get('attachment'), a.get('target'))
        out[key] = dict((k, a[k]) for k in ('action', 'hook', 'program', 'reason', 'strategy')
                        if a.get(k) is not None)
    return out


def _state(name, run, verb_done, verb_test):
    ret = {'name': name, 'changes': {}, 'result': False, 'comment': ''}
    test = bool(__opts__.get('test'))
    try:
        doc = run(test)
    except CommandExecutionError as exc:
        ret['comment'] = 'cnf-apply: %s' % exc
        return ret
    changes = _changes(doc)
    ret['changes'] = changes
    if test:
        ret['result'] = None if changes else True
        ret['comment'] = ('%d attachment change(s) would be %s' % (len(changes), verb_test)
                          if changes else 'Nothing to change')
    else:
        ret['result'] = True
        ret['comment'] = ('%d attachment change(s) %s' % (len(changes), verb_done)
                          if changes else 'Nothing to change')
    return ret


def applied(name, bpffs=None, binary=None):
    """
    The attachments of the manifests at ``name`` (a file or directory) are
    applied: cnf-apply apply (plan under test=True).
    """
    return _state(name, lambda test: __salt__['cnf_apply.apply'](name, bpffs=bpffs, binary=binary,
                                                                 test=test),
                  'made', 'made')


def absent(name, bpffs=None, binary=None):
    """
    Nothing the manifests at ``name`` own stays attached, nor what the
    manifests last applied from within that directory and no longer there
    own: cnf-apply destroy (plan --destroy under test=True).
    """
    return _state(name, lambda test: __salt__['cnf_apply.destroy'](name, bpffs=bpffs,
                                                                   binary=binary, test=test),
                  'made (removed)', 'made (removed)')
