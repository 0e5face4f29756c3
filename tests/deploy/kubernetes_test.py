#!/usr/bin/env python3
"""Offline checks of deploy/kubernetes: no schema validator for Kubernetes is packaged in Debian 12
(kubeconform and kubeval are not; kubectl validates only against a live API server), so the Job is
parsed with python3-yaml and its fields checked, and its agent command is run through the built
socklab, which must accept every flag of it.

Usage: kubernetes_test.py PROJECT_ROOT  (SOCKLAB_BIN_DIR: the built programs)
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

ROOT = sys.argv.pop(1) if len(sys.argv) > 1 else "."
DEPLOY = os.path.join(ROOT, "deploy", "kubernetes")
BIN = os.environ.get("SOCKLAB_BIN_DIR", "")


def load_job():
    with open(os.path.join(DEPLOY, "load-job.yaml")) as f:
        documents = [d for d in yaml.safe_load_all(f) if d is not None]
    assert len(documents) == 1, "one document: the Job"
    return documents[0]


def agent_command(job):
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/bin/sh", "-c"], container["command"]
    return container["args"][0]


class KubernetesJobTest(unittest.TestCase):
    def test_is_an_indexed_job_of_n_agents(self):
        job = load_job()
        self.assertEqual(job["apiVersion"], "batch/v1")
        self.assertEqual(job["kind"], "Job")
        self.assertEqual(job["metadata"]["name"], "socklab-load-__RUN_ID__")
        spec = job["spec"]
        self.assertEqual(spec["completionMode"], "Indexed")
        self.assertIsInstance(spec["parallelism"], int)
        self.assertEqual(spec["parallelism"], spec["completions"])
        self.assertEqual(spec["backoffLimit"], 0)
        pod = spec["template"]["spec"]
        self.assertEqual(pod["restartPolicy"], "Never")
        containers = pod["containers"]
        self.assertEqual(len(containers), 1)
        env = {e["name"]: e["value"] for e in containers[0]["env"]}
        # The shard count the agents are told is the number of pods.
        self.assertEqual(int(env["SHARDS"]), spec["parallelism"])
        for name in ("TARGET", "RUN_ID", "START_AT"):
            self.assertIn(name, env)
        command = agent_command(job)
        self.assertIn('--shard "$JOB_COMPLETION_INDEX/$SHARDS"', command)
        self.assertIn('--start-at "$START_AT"', command)
        self.assertIn('--run-id "$RUN_ID"', command)
        self.assertIn("--json -", command)
        # One agent per node.
        spread = pod["topologySpreadConstraints"][0]
        self.assertEqual(spread["topologyKey"], "kubernetes.io/hostname")
        self.assertEqual(spread["whenUnsatisfiable"], "DoNotSchedule")
        # Every placeholder is one the README's sed line fills.
        with open(os.path.join(DEPLOY, "load-job.yaml")) as f:
            placeholders = set(re.findall(r"__[A-Z_]+__", f.read()))
        with open(os.path.join(DEPLOY, "README.md")) as f:
            guide = f.read()
        for placeholder in placeholders:
            self.assertIn("s|%s|" % placeholder, guide)

    def test_image_recipe_is_debian_12_with_both_programs(self):
        with open(os.path.join(DEPLOY, "Containerfile")) as f:
            recipe = f.read()
        self.assertRegex(recipe, r"(?m)^FROM debian:12(-slim)?$")
        self.assertRegex(recipe, r"(?m)^COPY build/bin/socklab build/bin/socklab-server /usr/local/bin/$")
        self.assertIn("liburing2", recipe)

    @unittest.skipUnless(BIN and os.access(os.path.join(BIN, "socklab"), os.X_OK),
                         "SOCKLAB_BIN_DIR/socklab is not built")
    def test_each_agent_command_is_accepted_by_socklab(self):
        # Each pod's command with its index, run by the built socklab against port 0: every flag
        # is parsed and checked (shard, start time, run id) before the target's port is refused,
        # so exit 2 naming "target port 0" means the rest of the command line is good.
        job = load_job()
        command = agent_command(job).replace("exec socklab", shlex.quote(os.path.join(BIN, "socklab")))
        with tempfile.TemporaryDirectory() as scratch:
            termination_log = os.path.join(scratch, "termination-log")
            command = command.replace("/dev/termination-log", termination_log)
            for index in range(job["spec"]["parallelism"]):
                env = {c["name"]: c["value"] for c in job["spec"]["template"]["spec"]["containers"][0]["env"]}
                env.update(PATH=os.environ.get("PATH", ""), TARGET="127.0.0.1:0", RUN_ID="check-1",
                           START_AT=str(int(time.time()) + 600), JOB_COMPLETION_INDEX=str(index))
                run = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True,
                                     text=True, timeout=60)
                with open(termination_log) as f:
                    message = f.read()
                self.assertEqual(run.returncode, 2, message)
                self.assertIn("target port 0", message)
                self.assertEqual(message.count("\n"), 1, message)


if __name__ == "__main__":
    unittest.main(verbosity=2)
