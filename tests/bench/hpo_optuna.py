"""hpo_optuna.py - Optuna's TPESampler (default settings) on the functions of
tests/bench/hpo_bench.c, same output format, one line a seed:
    python hpo_optuna.py tpe|random branin|hartmann6|mixed FIRST_SEED LAST_SEED N
"""
import math
import sys
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(t):
    x = t.suggest_float("x", -5, 10)
    y = t.suggest_float("y", 0, 15)
    b, c, s = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - s) * math.cos(x) + 10


A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
     [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
AL = [1.0, 1.2, 3.0, 3.2]


def hartmann6(t):
    x = [t.suggest_float(f"x{i}", 0, 1) for i in range(6)]
    return -sum(AL[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2
                                      for j in range(6))) for i in range(4))


def mixed(t):
    x = t.suggest_float("x", -5, 5)
    n = t.suggest_int("n", -5, 5)
    c = t.suggest_categorical("c", ["a", "b", "c"])
    return x * x + (n - 2) ** 2 + {"a": 1.0, "b": 0.0, "c": 2.0}[c]


def run(kind, f, seed, n):
    sampler = (optuna.samplers.TPESampler(seed=seed) if kind == "tpe"
               else optuna.samplers.RandomSampler(seed=seed))
    study = optuna.create_study(sampler=sampler)
    best, out, spent = math.inf, [], 0.0
    for i in range(n):
        t0 = time.perf_counter()
        trial = study.ask()
        # sampling happens inside suggest_*: time the objective's suggest calls
        value = f(trial)
        spent += time.perf_counter() - t0
        study.tell(trial, value)
        best = min(best, value)
        if i + 1 in (20, 50, 100):
            out.append(f"{best:.6g}")
    print(" ".join(out), f"{spent * 1000 / n:.4f}", flush=True)


def main():
    kind, fname, s0, s1, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    f = {"branin": branin, "hartmann6": hartmann6, "mixed": mixed}[fname]
    for seed in range(s0, s1 + 1):
        run(kind, f, seed, n)


if __name__ == "__main__":
    main()
