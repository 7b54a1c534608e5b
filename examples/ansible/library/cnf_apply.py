#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-only
"""Ansible module for cnf-apply: converge a host's eBPF attachments."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: cnf_apply
short_description: Converge a host's eBPF attachments to cnf-apply manifests
description:
  - Runs C(cnf-apply --json) on the managed host.
  - With I(state=present), runs C(apply); in check mode, C(plan), which
    changes nothing. C(changed) is the tool's own C(changed) - what apply
    did, or what plan would do.
  - With I(state=absent), runs C(destroy) on the named manifests; in check
    mode, C(status), and reports as changed when anything they own is
    still attached.
  - The tool checks every manifest, object and target before it touches
    the first hook, so a failing run changes nothing; the task fails with
    the tool's own error message.
  - Supports diff mode, showing the attachments before and after, one line each.
options:
  paths:
    description: Manifest files or directories. When every path is a
      directory, the set is the host's whole desired state, and
      attachments of manifests no longer there are removed.
    type: list
    elements: path
    default: [/etc/cnf.d]
    aliases: [path]
  bpffs:
    description: The state root (C(--bpffs)); the tool's default,
      C(/sys/fs/bpf/cnf), when not set.
    type: path
  state:
    description: C(present) applies the manifests, C(absent) removes
      everything they own.
    type: str
    choices: [present, absent]
    default: present
  binary:
    description: The cnf-apply executable, a path or a name looked up in
      PATH, /usr/sbin and /usr/local/sbin.
    type: str
    default: cnf-apply
requirements:
  - cnf-apply on the managed host, run as root (become)
'''

EXAMPLES = r'''
- name: Converge the host's eBPF attachments to /etc/cnf.d
  cnf_apply:
    paths: [/etc/cnf.d]

- name: What would change (also what --check does)
  cnf_apply:
    paths: [/var/lib/cnf-apply/stage]
  check_mode: true
  register: plan

- name: Remove what one manifest owns
  cnf_apply:
    paths: [/etc/cnf.d/10-edge.yaml]
    state: absent
'''

RETURN = r'''
changed:
  description: apply/destroy changed something; in check mode, would.
  type: bool
verb:
  description: The cnf-apply verb that ran (apply, plan, destroy, status).
  type: str
actions:
  description: The tool's actions (plan, apply, destroy), one per
    attachment instance, with action, manifest, attachment, hook, target,
    program, reason, strategy, link_id, prog_id; for state=absent in check
    mode, the delete actions destroy would carry out.
  type: list
  elements: dict
summary:
  description: The number of actions of each kind.
  type: dict
cmd:
  description: The command that ran.
  type: list
rc:
  description: The tool's exit status, on failure only (Ansible takes a
    non-zero rc as a failure, and plan exits 2 when it finds changes).
  type: int
'''

import json

from ansible.module_utils.basic import AnsibleModule

# Exit status of cnf-apply: 0 nothing to change, 2 differences found
# (plan, status) or changes made (--detailed-exitcode), 1 error.
EXIT_OK = 0
EXIT_FAIL = 1
EXIT_CHANGES = 2


def parse_json(text):
    """The tool's one JSON document, or None."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def find_binary(module, name):
    if '/' in name:
        return name
    return module.get_bin_path(name, required=True, opt_dirs=['/usr/sbin', '/usr/local/sbin'])


def run_tool(module, binary, verb, paths, bpffs):
    cmd = [binary, '--json']
    if bpffs:
        cmd += ['--bpffs', bpffs]
    cmd += [verb] + list(paths)
    rc, out, err = module.run_command(cmd, check_rc=False)
    doc = parse_json(out)
    if rc not in (EXIT_OK, EXIT_CHANGES) or doc is None or 'error' in doc:
        msg = None
        if doc is not None:
            msg = doc.get('error')
        if not msg:
            msg = err.strip() or 'cnf-apply %s failed with exit status %d' % (verb, rc)
        module.fail_json(msg=msg, errors=(doc or {}).get('errors', []), cmd=cmd, rc=rc,
                         stdout=out, stderr=err)
    for w in doc.get('warnings', []):
        module.warn('cnf-apply: %s' % w)
    return cmd, doc


def describe(a):
    """One attachment instance as a line of the diff."""
    # hook_params names the hook and target too: "tcx eth0 dir=ingress".
    where = a.get('hook_params') or '%s %s' % (a.get('hook'), a.get('target'))
    line = '%s/%s: %s' % (a.get('manifest'), a.get('attachment'), where)
    if a.get('program'):
        line += ' [%s]' % a['program']
    return line


def lines_text(lines):
    return ''.join(line + '\n' for line in sorted(lines))


def render_diff(actions):
    """before: what is attached now; after: what will be, with the change."""
    before, after = [], []
    for a in actions:
        kind = a.get('action')
        if kind != 'create':
            before.append(describe(a))
        if kind == 'delete':
            continue
        line = describe(a)
        if kind != 'noop':
            line += '  # %s: %s' % (kind, a.get('reason', ''))
            if a.get('strategy'):
                line += ', %s' % a['strategy']
        after.append(line)
    return {'before': lines_text(before), 'after': lines_text(after),
            'before_header': 'live attachments', 'after_header': 'desired attachments'}


def status_as_deletes(doc):
    """state=absent in check mode: what destroy would delete, from status."""
    actions = []
    for s in doc.get('attachments', []):
        if s.get('state') == 'missing':
            continue
        a = dict((k, s[k]) for k in ('manifest', 'attachment', 'hook', 'target', 'program',
                                     'hook_params', 'link_id', 'prog_id') if s.get(k) is not None)
        a['action'] = 'delete'
        a['reason'] = 'destroy (now %s)' % s.get('state')
        actions.append(a)
    return actions


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type='list', elements='path', default=['/etc/cnf.d'], aliases=['path']),
            bpffs=dict(type='path'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            binary=dict(type='str', default='cnf-apply'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p['paths']:
        module.fail_json(msg='paths: at least one manifest file or directory')
    binary = find_binary(module, p['binary'])

    if p['state'] == 'present':
        verb = 'plan' if module.check_mode else 'apply'
        cmd, doc = run_tool(module, binary, verb, p['paths'], p['bpffs'])
        actions = doc.get('actions', [])
        changed = bool(doc.get('changed'))
    elif module.check_mode:
        verb = 'status'
        cmd, doc = run_tool(module, binary, verb, p['paths'], p['bpffs'])
        actions = status_as_deletes(doc)
        changed = bool(actions)
    else:
        verb = 'destroy'
        cmd, doc = run_tool(module, binary, verb, p['paths'], p['bpffs'])
        actions = doc.get('actions', [])
        changed = bool(doc.get('changed'))

    result = dict(changed=changed, verb=verb, actions=actions, cmd=cmd)
    if 'summary' in doc:
        result['summary'] = doc['summary']
    if module._diff:
        result['diff'] = render_diff(actions)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
