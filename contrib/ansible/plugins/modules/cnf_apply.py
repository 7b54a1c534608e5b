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
version_added: "1.0.0"
author:
  - cnf-apply maintainers (!UNKNOWN)
description:
  - Runs C(cnf-apply --json) on the managed host.
  - With I(state=present), runs C(apply); in check mode, C(plan), which
    changes nothing. C(changed) is the tool's own C(changed), what apply
    did or what plan would do.
  - With I(state=absent), runs C(destroy) on the named manifests, and
    removes the attachments of manifests last applied from within
    I(paths) that are no longer there (orphans), with
    C(destroy --all --target MANIFEST); in check mode, C(plan --destroy)
    with the same arguments, which predicts exactly what those runs do.
  - The tool checks every manifest, object and target before it touches
    the first hook, and rolls back what it made when the kernel refuses a
    change midway, so a failed task leaves the attachments as they were;
    C(msg) says which (the tool's error, then the rollback outcome).
options:
  paths:
    description:
      - Manifest files or directories. When every path is a directory,
        the set is the host's whole desired state, and attachments of
        manifests no longer there are removed.
    type: list
    elements: path
    default: [/etc/cnf.d]
    aliases: [path]
  bpffs:
    description:
      - The state root (C(--bpffs)); the tool's default,
        C(/sys/fs/bpf/cnf), when not set.
    type: path
  state:
    description:
      - C(present) applies the manifests, C(absent) removes everything
        they own, and the orphans of manifests last applied from within
        I(paths).
    type: str
    choices: [present, absent]
    default: present
  prune_from:
    description:
      - With I(state=present), directories whose set I(paths) replaces;
        the attachments of manifests last applied from within them that
        I(paths) do not declare are deleted too (in check mode, planned).
        The role uses it to plan a staged copy exactly as the apply of
        the installed copy will run.
    type: list
    elements: path
    default: []
  binary:
    description:
      - The cnf-apply executable, a path or a name looked up in PATH,
        /usr/sbin and /usr/local/sbin. The task fails at once, saying so,
        when it is not there or not executable.
    type: str
    default: cnf-apply
  wait:
    description:
      - Seconds to wait for another run's lock on the state root
        (C(--wait)); C(0) fails at once (C(--no-wait)). The tool's
        default (60) when not set.
    type: int
  verbosity:
    description:
      - How many C(-v) to pass; the tool's messages are returned in
        I(messages).
    type: int
    choices: [0, 1, 2]
    default: 0
requirements:
  - cnf-apply on the managed host, run as root (become)
attributes:
  check_mode:
    support: full
    description: Runs C(plan) (C(plan --destroy) for I(state=absent)), which changes nothing.
  diff_mode:
    support: full
    description: The attachment instances before and after, one line each, with the action and reason.
  platform:
    support: full
    platforms: [linux]
    description: Linux hosts with BPF (bpffs, root).
notes:
  - Exit status 2 of C(plan) (changes found) is not a failure.
'''

EXAMPLES = r'''
- name: Converge the host's eBPF attachments to /etc/cnf.d
  cnf.apply.cnf_apply:
    paths: [/etc/cnf.d]

- name: What would change (also what --check does)
  cnf.apply.cnf_apply:
    paths: [/var/lib/cnf-apply/stage]
    prune_from: [/etc/cnf.d]
  check_mode: true
  register: plan

- name: Remove what the manifests own, orphans included
  cnf.apply.cnf_apply:
    paths: [/etc/cnf.d]
    state: absent
    wait: 120
'''

RETURN = r'''
verb:
  description: The cnf-apply verb that ran first (apply, plan, destroy).
  returned: always
  type: str
  sample: apply
actions:
  description:
    - The tool's actions, one per attachment instance, with action,
      manifest, attachment, hook, target, program, reason, strategy,
      link_id, prog_id; those of the orphan runs follow.
  returned: always
  type: list
  elements: dict
  sample: [{action: create, manifest: edge, attachment: fw-eth0, hook: xdp,
            target: eth0, reason: not attached, link_id: 12, prog_id: 40}]
summary:
  description: The number of actions of each kind.
  returned: always
  type: dict
  sample: {create: 1, noop: 2, delete: 0}
orphans:
  description: Manifests removed as orphans (I(state=absent)) or as no
    longer declared (I(prune_from)); in check mode, those that would be.
  returned: always
  type: list
  elements: str
  sample: [old-edge]
cmd:
  description: The commands that ran.
  returned: always
  type: list
  elements: list
  sample: [[/usr/sbin/cnf-apply, --json, apply, /etc/cnf.d]]
messages:
  description: The tool's messages on stderr (with I(verbosity) > 0).
  returned: when verbosity > 0
  type: list
  elements: str
  sample: ["attachment 'fw-eth0': in sync"]
rollback:
  description:
    - On failure, what became of the changes made before it
      C(none) (failed before touching a hook), C(rolled back),
      C(rollback failed), C(kept) (the new state is in place, only
      removing what it replaced failed).
  returned: failure
  type: str
  sample: rolled back
errors:
  description: Every error the tool reported.
  returned: failure
  type: list
  elements: str
  sample: ["attachment 'fw-eth9' (/etc/cnf.d/30-bad.yaml:10): interface 'eth9' not found"]
rc:
  description: The tool's exit status.
  returned: failure
  type: int
  sample: 1
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule

# Exit status of cnf-apply: 0 nothing to change, 2 differences found
# (plan, status) or changes made (--detailed-exitcode), 1 error.
EXIT_OK = 0
EXIT_CHANGES = 2

# The tool's last error line on a failed apply says what became of the
# changes it had made (src/execute.c).
ROLLBACK = (
    ('rolling them back failed', 'rollback failed'),
    ('rolled back', 'rolled back'),
    ('the new state is in place', 'kept'),
)


def parse_json(text):
    """The tool's one JSON document, or None."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def rollback_outcome(errors):
    """(outcome, the tool's sentence or ours) for a failed run."""
    for e in errors:
        for needle, outcome in ROLLBACK:
            if needle in e:
                return outcome, e
    return 'none', 'nothing was changed: the run failed before touching a hook'


def has_manifests(path):
    """A file, or a directory with *.yaml/*.yml files (the tool refuses
    a directory without)."""
    if not os.path.isdir(path):
        return True
    return any(f.endswith(('.yaml', '.yml')) for f in os.listdir(path))


def find_binary(module, name):
    if '/' in name:
        path = name
    else:
        path = module.get_bin_path(name, opt_dirs=['/usr/sbin', '/usr/local/sbin'])
        if not path:
            module.fail_json(msg="cnf-apply binary '%s' not found in PATH, /usr/sbin or "
                                 "/usr/local/sbin: install cnf-apply or set binary" % name)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        module.fail_json(msg="cnf-apply binary '%s' does not exist or is not executable: "
                             "install cnf-apply or set binary" % path)
    return path


class Tool(object):
    """cnf-apply on this host, with the options every run shares."""

    def __init__(self, module):
        p = module.params
        self.module = module
        self.binary = find_binary(module, p['binary'])
        self.common = ['--json'] + ['-v'] * p['verbosity']
        if p['bpffs']:
            self.common += ['--bpffs', p['bpffs']]
        self.lock = []
        if p['wait'] is not None:
            self.lock = ['--no-wait'] if p['wait'] == 0 else ['--wait', str(p['wait'])]
        self.cmds = []
        self.messages = []

    def run(self, args, locks=True, soft=False):
        cmd = [self.binary] + self.common + args[:1] + (self.lock if locks else []) + args[1:]
        self.cmds.append(cmd)
        rc, out, err = self.module.run_command(cmd, check_rc=False)
        self.messages += [line for line in err.splitlines() if line.strip()]
        doc = parse_json(out)
        if rc not in (EXIT_OK, EXIT_CHANGES) or doc is None or 'error' in doc:
            if soft:
                self.module.warn('cnf-apply: %s' % ((doc or {}).get('error') or err.strip()))
                return None
            self.fail(cmd, rc, out, err, doc)
        for w in doc.get('warnings', []):
            self.module.warn('cnf-apply: %s' % w)
        return doc

    def fail(self, cmd, rc, out, err, doc):
        errors = (doc or {}).get('errors') or []
        msg = (doc or {}).get('error') or err.strip() or \
            'cnf-apply %s failed with exit status %d' % (cmd[len(self.common) + 1], rc)
        outcome, sentence = rollback_outcome(errors)
        if sentence not in msg:
            msg = '%s (%s)' % (msg, sentence)
        self.module.fail_json(msg=msg, errors=errors, rollback=outcome, cmd=self.cmds, rc=rc,
                              stdout=out, stderr=err)

    def manifest_names(self, paths):
        """The names of the manifests paths declare (validate: no bpf())."""
        doc = self.run(['validate'] + list(paths), locks=False)
        return set(m['name'] for m in doc.get('manifests', []))

    def applied_from(self, paths, soft=False):
        """The manifests with instances that status of paths lists: those
        the paths declare, and those last applied from within them that
        are gone (orphaned). soft: a set status cannot read (a broken
        manifest) has none, with a warning."""
        dirs = [p for p in paths if os.path.isdir(p) and has_manifests(p)]
        if not dirs:
            return set()
        doc = self.run(['status'] + dirs, soft=soft)
        return set(a['manifest'] for a in (doc or {}).get('attachments', []))


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
    """before: what is attached now; after: what will be, with the change.
    A delete is a line of before only: it carries its reason there."""
    before, after = [], []
    for a in actions:
        kind = a.get('action')
        line = describe(a)
        if kind == 'delete':
            before.append('%s  # delete: %s' % (line, a.get('reason', '')))
            continue
        if kind != 'create':
            before.append(line)
        if kind != 'noop':
            line += '  # %s: %s' % (kind, a.get('reason', ''))
            if a.get('strategy'):
                line += ', %s' % a['strategy']
        after.append(line)
    return {'before': lines_text(before), 'after': lines_text(after),
            'before_header': 'live attachments', 'after_header': 'desired attachments'}


def summarize(actions):
    counts = dict((k, 0) for k in ('create', 'update', 'replace', 'delete', 'noop'))
    for a in actions:
        counts[a.get('action')] = counts.get(a.get('action'), 0) + 1
    return counts


def destroy_orphans(tool, check, orphans):
    """destroy --all --target M... (plan --destroy in check mode)."""
    if not orphans:
        return {'actions': [], 'changed': False}
    targets = []
    for m in sorted(orphans):
        targets += ['--target', m]
    if check:
        return tool.run(['plan', '--destroy', '--all'] + targets)
    return tool.run(['destroy', '--all'] + targets)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type='list', elements='path', default=['/etc/cnf.d'], aliases=['path']),
            bpffs=dict(type='path'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            prune_from=dict(type='list', elements='path', default=[]),
            binary=dict(type='str', default='cnf-apply'),
            wait=dict(type='int'),
            verbosity=dict(type='int', choices=[0, 1, 2], default=0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p['paths']:
        module.fail_json(msg='paths: at least one manifest file or directory')
    if p['wait'] is not None and p['wait'] < 0:
        module.fail_json(msg='wait: seconds, 0 or more')
    tool = Tool(module)
    check = module.check_mode

    if p['state'] == 'present':
        # Computed before the apply, which records the new sources.
        orphans = set()
        if p['prune_from']:
            orphans = tool.applied_from(p['prune_from'], soft=True) - tool.manifest_names(p['paths'])
        verb = 'plan' if check else 'apply'
        doc = tool.run([verb] + p['paths'])
    else:
        # Orphans: listed by status of the paths, not declared by them.
        # Directories without manifests (emptied by an earlier run) own
        # nothing the tool can find from them.
        paths = [x for x in p['paths'] if has_manifests(x)]
        verb = 'plan' if check else 'destroy'
        orphans, doc = set(), {}
        if paths:
            orphans = tool.applied_from(paths) - tool.manifest_names(paths)
            doc = tool.run((['plan', '--destroy'] if check else ['destroy']) + paths)
    gone = destroy_orphans(tool, check, orphans)

    actions = doc.get('actions', []) + gone.get('actions', [])
    result = dict(changed=bool(doc.get('changed') or gone.get('changed')), verb=verb,
                  actions=actions, summary=summarize(actions), orphans=sorted(orphans),
                  cmd=tool.cmds)
    if p['verbosity']:
        result['messages'] = tool.messages
    if module._diff:
        result['diff'] = render_diff(actions)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
