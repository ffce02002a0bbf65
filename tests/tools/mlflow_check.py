#!/usr/bin/env python3
"""Read an arxiv run back with MLflow's own Python client and check it.

Used by tests/arxiv-mlflow.bats, run with the Python of a venv that has mlflow:

    mlflow_check.py --uri URI [--experiment arxiv] [--runs N] [--status FINISHED]
        [--param KEY[=VALUE]]... [--metric KEY=STEPS]... [--artifact PATH]...

Checks the latest run of the experiment: its status, that each --param exists
(with VALUE when given), that each --metric has a history of exactly the steps
1..STEPS (every epoch, in order), and that each --artifact is in the run's
artifact tree (listed recursively through the client, so for a server this goes
through its artifact proxy). --runs N checks the experiment holds N runs.
Prints the run as JSON on stdout; problems on stderr, exit status 1.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses ./mlruns otherwise

from mlflow.tracking import MlflowClient  # noqa: E402


def artifact_paths(client, run_id, path=None):
    out = []
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            out += artifact_paths(client, run_id, f.path)
        else:
            out.append(f.path)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--experiment", default="arxiv")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--status", default="FINISHED")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--metric", action="append", default=[])
    ap.add_argument("--artifact", action="append", default=[])
    a = ap.parse_args()

    client = MlflowClient(tracking_uri=a.uri)
    problems = []
    exp = client.get_experiment_by_name(a.experiment)
    if exp is None:
        print(f"no experiment named {a.experiment!r}", file=sys.stderr)
        return 1
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])
    if not runs:
        print(f"experiment {a.experiment!r} has no runs", file=sys.stderr)
        return 1
    if a.runs is not None and len(runs) != a.runs:
        problems.append(f"expected {a.runs} runs, found {len(runs)}")
    run = client.get_run(runs[0].info.run_id)
    rid = run.info.run_id

    if run.info.status != a.status:
        problems.append(f"status {run.info.status}, expected {a.status}")
    if run.info.end_time is None and a.status != "RUNNING":
        problems.append("no end_time")
    for p in a.param:
        key, _, want = p.partition("=")
        if key not in run.data.params:
            problems.append(f"param {key} missing")
        elif want and run.data.params[key] != want:
            problems.append(f"param {key}={run.data.params[key]!r}, expected {want!r}")
    histories = {}
    for key in run.data.metrics:
        histories[key] = [(m.step, m.value) for m in client.get_metric_history(rid, key)]
    for m in a.metric:
        key, _, steps = m.partition("=")
        h = sorted(histories.get(key, []))
        want = list(range(1, int(steps) + 1))
        if [s for s, _ in h] != want:
            problems.append(f"metric {key}: steps {[s for s, _ in h]}, expected {want}")
    arts = sorted(artifact_paths(client, rid))
    for p in a.artifact:
        if p not in arts:
            problems.append(f"artifact {p} missing (have {arts})")

    json.dump({"run_id": rid, "experiment_id": exp.experiment_id, "status": run.info.status,
               "run_name": run.info.run_name, "params": run.data.params,
               "metrics": histories, "artifacts": arts}, sys.stdout, sort_keys=True)
    print()
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
