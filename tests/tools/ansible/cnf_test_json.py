# SPDX-License-Identifier: GPL-2.0-only
"""An Ansible stdout callback for the tests (ansible-core has no JSON one;
community.general does): every task result and the recap as one document,

    {"tasks": [{"name", "host", "status", "result"}], "stats": {HOST: {...}}}

status: ok, failed, skipped or unreachable. Used with
ANSIBLE_CALLBACK_PLUGINS=tests/tools/ansible ANSIBLE_STDOUT_CALLBACK=cnf_test_json."""
import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'cnf_test_json'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tasks = []

    def _add(self, result, status):
        self.tasks.append({'name': result._task.get_name(), 'host': result._host.get_name(),
                           'status': status, 'result': result._result})

    def v2_runner_on_ok(self, result):
        self._add(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._add(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._add(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        doc = {'tasks': self.tasks,
               'stats': {h: stats.summarize(h) for h in sorted(stats.processed)}}
        print(json.dumps(doc, default=str))
