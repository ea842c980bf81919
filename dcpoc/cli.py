"""Command line: `python -m dcpoc COMMAND`. Bad input exits non-zero with one line, never a traceback."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Sequence

from .costs import PriceError
from .config import ARCHS, DEVICES, PRESETS, ConfigError, config_keys, make_config
from .data import CorpusError
from .cli_runs import cmd_cancel, cmd_restart, cmd_runs, resumed_as_job as _resumed_as_job
from .cli_slurm import add_executor_flags, add_slurm_parser, cmd_slurm, submit_single
from .runs.status import STATUSES
from .studies.spec import REFERENCE_STUDIES, SWEEPS

USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, CorpusError, PriceError)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dcpoc", description="DCFormer proof-of-concept workbench.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train one model in the foreground, recording into the database",
                       epilog="--set keys: " + ", ".join(config_keys()))
    p.add_argument("--arch", choices=ARCHS, help="transformer (Transformer++) or dcformer; required "
                   "for a new run (not with --resume or --run-id)")
    p.add_argument("--preset", default="cpu-demo", help=f"one of {', '.join(PRESETS)}")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the preset's)")
    p.add_argument("--seed", type=int, help="random seed (default 1)")
    p.add_argument("--corpus", help="pydoc, stdlib or text:PATH (default pydoc)")
    p.add_argument("--device", choices=DEVICES, help="auto (default), cpu or cuda")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set lr=3e-4 --set model.dc_rank=4")
    p.add_argument("--study", help="attach the run to this study (created if new)")
    p.add_argument("--resume", metavar="RUN_ID", help="continue a stopped run from its checkpoint")
    p.add_argument("--run-id", metavar="RUN_ID",
                   help="train an existing queued run (the way the worker starts runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_executor_flags(p)

    p = sub.add_parser("report", help="the meeting summary of a study (verdict, numbers, risks)")
    p.add_argument("--study", required=True)
    p.add_argument("--format", choices=("md", "html", "pdf", "pptx"), default="md",
                   help="pdf needs a Japanese font (Debian: fonts-ipaexfont-gothic)")
    p.add_argument("--lang", choices=("en", "ja"), default="en")
    p.add_argument("--out", help="file to write (default STUDY-LANG.FORMAT here)")

    p = sub.add_parser("runs", help="list runs")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--study")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--arch", choices=ARCHS)

    p = sub.add_parser("cancel", help="cancel runs: a queued one at once, a running one within "
                       "seconds (it keeps its last checkpoint; continue it with `resume`)")
    p.add_argument("runs", nargs="+", metavar="RUN_ID")
    for name, what in (("resume", "continue failed or cancelled runs from their last checkpoint "
                                  "(same run id)"),
                       ("retry", "start failed or cancelled runs again from scratch (new run ids)")):
        p = sub.add_parser(name, help=f"{what}, as the Runs page's buttons do: a worker trains a "
                           "local run (one is started if none is running), a SLURM run gets a new "
                           "job (`train --resume` instead trains a local run here, in the foreground)")
        p.add_argument("runs", nargs="+", metavar="RUN_ID")
        add_executor_flags(p, with_executor=False)   # a SLURM run's next job, e.g. a longer limit

    p = sub.add_parser("prices", help="show or edit the $ per device-hour price table")
    p.add_argument("--set", dest="prices", action="append", default=[], metavar="KIND=USD",
                   help="e.g. --set h100=2.20 (kinds: cpu, a100, h100, h200, other-gpu)")
    p.add_argument("--reset", action="store_true", help="back to the built-in defaults")

    _add_bench_parser(sub)
    _add_worker_parser(sub)
    _add_study_parser(sub)
    _add_generate_parsers(sub)
    add_slurm_parser(sub)
    p = sub.add_parser("db", help="the database's schema revision: show it or upgrade it")
    p.add_argument("action", choices=("current", "upgrade"), help="upgrade: to this dcpoc's "
                   "revision (an SQLite file is backed up beside itself first)")
    return parser


def _add_generate_parsers(sub) -> None:
    p = sub.add_parser("generate", help="sample text from a finished run's checkpoint (KV cache)")
    p.add_argument("--run", required=True, metavar="RUN_ID", help="the run whose checkpoint to use")
    p.add_argument("--prompt", required=True, help="text to continue")
    p.add_argument("--max-tokens", type=int, default=200, help="bytes to generate (default 200)")
    p.add_argument("--temperature", type=float, default=0.8, help="0 is greedy (default 0.8)")
    p.add_argument("--top-k", type=int, default=40, help="sample among the k likeliest (0: all)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed: same seed, same text")
    p = sub.add_parser("inspect", help="head-composition matrices, gates and attention maps of a "
                       "DCFormer run on a text (and the same head of a Transformer++ run)")
    p.add_argument("--run", required=True, metavar="RUN_ID", help="a DCFormer run")
    p.add_argument("--twin", metavar="RUN_ID", help="a Transformer++ run to show next to it")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to look at")
    source.add_argument("--sample", action="store_true", help="a validation sample of the run's corpus")
    p.add_argument("--token", type=int, default=-1, help="query position (default -1: the last)")
    p.add_argument("--head", type=int, default=0, help="head of the attention maps (default 0)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks; write JSON results")
    p.add_argument("what", choices=("model", "kernels", "gpu", "infer", "selfcheck"), help="model: "
                   "training tokens/s of both architectures; kernels: attention time and memory of SDPA "
                   "and every DCMHA path; gpu: self-check, kernel checks + both benchmarks; infer: "
                   "KV-cached prefill/decode speed, cache bytes per token (stored); selfcheck: Triton vs "
                   "PyTorch DCMHA on this GPU, stored: the path attn_impl=auto uses (--preset: shape)")
    p.add_argument("--preset", default=None, help="model bench preset (default cpu-demo on CPU)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per architecture")
    p.add_argument("--compile", action="store_true", help="torch.compile both models")
    p.add_argument("--seq-lens", help="kernels bench: comma-separated sequence lengths "
                   "(default 2048 first, then 512..8192 on a GPU; 128,256,512 on a CPU)")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--out", help="JSON file to write (default runs/bench-*.json)")
    p.add_argument("--budget-s", type=float, default=None, help="gpu: seconds the stages may take "
                   "(default 420); stages, rows and presets not started by then are skipped (the JSON is rewritten after "
                   "every stage)")


def _add_worker_parser(sub) -> None:
    p = sub.add_parser("worker", help="run queued runs one at a time, each in its own process",
                       description="Claim queued runs one at a time and train each in its own "
                       "process (torchrun when a run has nproc > 1); output goes to "
                       "runs/<id>/log.txt. One worker per device and host: a second one exits.")
    p.add_argument("--forever", action="store_true",
                   help="keep waiting for new runs instead of exiting when the queue is empty")
    p.add_argument("--poll", type=float, default=1.0, metavar="S",
                   help="seconds between looks at the queue while waiting (default 1)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="auto (default: every visible device), cpu, cpu:K (another CPU slot), "
                   "cuda, cuda:N or cuda:N,M (these GPUs)")
    p.add_argument("--lost-after", type=float, default=30.0, metavar="S",
                   help="mark a running run failed once its heartbeat is this old (default 30)")


def _add_study_parser(sub) -> None:
    p = sub.add_parser("study", help="plan, launch and list studies (presets x archs x seeds)")
    study = p.add_subparsers(dest="study_command", required=True, parser_class=_Parser)
    for name, text in (("plan", "print the runs of a study and its estimated time and cost"),
                       ("launch", "queue the runs of a study and start a worker")):
        q = study.add_parser(name, help=text, description=text + ".",
                             epilog="--set keys: " + ", ".join(config_keys()))
        q.add_argument("--reference", choices=list(REFERENCE_STUDIES),
                       help="start from a shipped reference study (the options below change it)")
        q.add_argument("--name", help="study name (created if new; default: the reference's)")
        q.add_argument("--question", help="the PoC question the study answers")
        q.add_argument("--presets", help=f"comma-separated: {', '.join(PRESETS)} (default tiny)")
        q.add_argument("--archs", help="comma-separated architectures (default both, QK-norm on)")
        q.add_argument("--variants", help="comma-separated variants instead of archs: "
                       "transformer (the paper's Transformer++, no QK-norm), transformer-qknorm, "
                       "dcformer (DCMHA + QK-norm)")
        q.add_argument("--ladder", action="store_true",
                       help="the ablation ladder: all three variants (splits DCFormer's gain into "
                       "its QK-norm part and its DCMHA part)")
        q.add_argument("--seeds", help="comma-separated distinct integers (default 1)")
        q.add_argument("--confirm-seeds", metavar="SEEDS",
                       help="fresh seeds of a confirmation stage after a sweep, e.g. 101,102,103 "
                       "(each variant at its chosen rate; 'none' drops it)")
        budget = q.add_mutually_exclusive_group()
        budget.add_argument("--steps", type=int, help="optimizer steps per run")
        budget.add_argument("--tokens", type=int, help="training tokens per run instead of steps")
        budget.add_argument("--tokens-per-param", type=float, metavar="R",
                            help="tokens scaled with size: R x the parameters of each preset")
        q.add_argument("--sweep", choices=SWEEPS,
                       help="learning-rate sweep: none (default), smallest (best rate carries to "
                       "the larger sizes) or each (every size)")
        q.add_argument("--lrs", help="comma-separated rates to sweep (default: the preset's "
                       "rate / 3.3, x 1, x 3)")
        q.add_argument("--evals-per-run", type=int, help="evaluations per run (default: the "
                       "preset's eval_every)")
        q.add_argument("--corpus", help="pydoc (default), stdlib or text:PATH")
        q.add_argument("--device", choices=DEVICES)
        q.add_argument("--nproc", type=int,
                       help="processes (GPUs) per run; more than 1 trains with torchrun (DDP)")
        q.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE", help="override a config field of every run")
        add_executor_flags(q)
        if name == "launch":
            q.add_argument("--no-worker", action="store_true",
                           help="only queue; start `python -m dcpoc worker` yourself")
            q.add_argument("--workers", type=int, metavar="N",
                           help="start N CPU worker slots (cpu, cpu:1, ...) so N one-thread runs "
                           "train at once, e.g. 2 on a 2-core CPU for reference-cpu")
    q = study.add_parser("list", help="studies with their runs by status")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q = study.add_parser("export", help="write a finished study (runs, metrics, benchmarks) to "
                         "one .dcpoc-study.json.gz file")
    q.add_argument("--study", required=True, help="the study to export")
    q.add_argument("--out", help="file to write (default STUDY.dcpoc-study.json.gz here)")
    q = study.add_parser("import", help="read a study file into this database (ids kept; shown "
                         "as recorded results with their date and machine)")
    q.add_argument("file", help="a .dcpoc-study.json.gz file from `study export`")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {"train": cmd_train, "runs": cmd_runs, "prices": cmd_prices, "bench": cmd_bench,
                    "worker": cmd_worker, "study": _cmd_study, "generate": cmd_generate,
                    "inspect": cmd_inspect, "report": cmd_report, "db": cmd_db,
                    "slurm": cmd_slurm, "cancel": cmd_cancel, "resume": cmd_restart,
                    "retry": cmd_restart}
        code = commands[args.command](args)
        sys.stdout.flush()   # inside the try: a reader that went away is seen here, not at exit
        return code
    except KeyboardInterrupt:   # first: _user_errors() imports, and a Ctrl-C that cut an import
        print("interrupted", file=sys.stderr)     # short leaves that package half-loaded
        return 130
    except _user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:    # `... | head` closed the pipe: what it wanted was printed
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no second error at exit
        return 0
    except Exception as e:  # an internal error: still one line unless asked for the traceback
        if os.environ.get("DCPOC_DEBUG"):
            raise
        print(f"error: internal error {type(e).__name__}: {e} (set DCPOC_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


def _user_errors() -> tuple[type[BaseException], ...]:
    """The errors a user can cause and act on. The checkpoint module's are included once it is
    loaded (it imports torch, which commands like `runs` never need)."""
    from .runs import RunError
    from .runs.slurm import SlurmError
    from .runs.store import StoreError
    errors = [*USER_ERRORS, StoreError, RunError, SlurmError]
    if "dcpoc.checkpoint" in sys.modules:
        errors.append(sys.modules["dcpoc.checkpoint"].CheckpointError)
    return tuple(errors)


def cmd_train(args: argparse.Namespace) -> int:
    from .runs import Status, create_run, execute_run
    from .runs.store import Store
    if args.resume and args.run_id:
        raise ConfigError("give --resume or --run-id, not both")
    if args.resume and _resumed_as_job(args):
        return 0
    if args.resume or args.run_id:
        store = Store()
        run_id = args.resume or args.run_id
        summary = execute_run(store, run_id, resume=bool(args.resume), progress=not args.no_progress)
    else:
        if not args.arch:
            raise ConfigError("--arch is required: transformer or dcformer")
        run = make_config(args.arch, args.preset, args.overrides, steps=args.steps, seed=args.seed,
                          corpus=args.corpus, device=args.device)
        if run.train.nproc > 1 and args.executor != "slurm" and "RANK" not in os.environ:
            raise ConfigError(f"nproc={run.train.nproc} needs one process per device and a foreground "
                              "`train` is one: queue it with `python -m dcpoc study launch --nproc "
                              f"{run.train.nproc}` (the worker starts torchrun)")
        from .train import preflight
        if args.study is not None:   # the rule `study launch` keeps, or an export would not import
            from .studies.spec import validate_name
            args.study = validate_name(args.study)
        corpus = preflight(run)   # bad device, kernels or data: fail before anything is written
        from .runs.paths import writable_home
        writable_home()
        from .runs.lifecycle import refuse_recorded
        store = Store()
        refuse_recorded(store, args.study)
        if args.executor == "slurm":
            return submit_single(args, run, corpus)
        run_id = create_run(store, run, corpus_fingerprint=corpus.fingerprint, study=args.study,
                            status=Status.RUNNING)
        print(f"run {run_id}: {run.model.arch} {run.preset}, {run.train.steps} steps, "
              f"corpus {corpus.spec} ({len(corpus.data):,} bytes)", file=sys.stderr)
        summary = execute_run(store, run_id, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) > 0:   # a torchrun follower: rank 0 reports
        return 0 if summary["status"] in (Status.SUCCEEDED, Status.CANCELLED) else 1
    loss = summary["final_val_loss"]
    measured = (f"val loss {loss:.4f} nats/byte, {loss / math.log(2):.4f} bits/byte"
                if math.isfinite(loss) else "no validation loss yet")
    print(f"run {run_id} {summary['status']}: step {summary['step']}, {measured}, "
          f"{summary['tokens_per_s']:,.0f} tokens/s, "
          f"{summary['wall_s']:.1f} s ({100 * summary['record_s'] / max(summary['wall_s'], 1e-9):.2f}% "
          "of it recording metrics)" + (f" ({summary['error']})" if summary["error"] else ""))
    if summary["status"] == Status.CANCELLED and summary.get("interrupted"):
        # Ctrl-C: stopped, not done, so `train ... && report ...` does not go on
        print(f"interrupted: resume it with `python -m dcpoc train --resume {run_id}`", file=sys.stderr)
        return 130
    return 0 if summary["status"] in (Status.SUCCEEDED, Status.CANCELLED) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from . import report
    from .decision import load_decision
    from .runs.store import Store
    store = Store()
    if store.get_study(args.study) is None:
        print(f"error: no study named '{args.study}'; `python -m dcpoc study list` names them",
              file=sys.stderr)
        return 2
    args.out = args.out or f"{args.study}-{args.lang}.{args.format}"
    sd = load_decision(store, args.study)      # the store's price table, as every page uses
    try:
        data = report.render(sd, args.format, args.lang)
    except report.ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        Path(args.out).write_bytes(data)
    except OSError as e:
        print(f"error: cannot write {args.out} ({e.strerror}); choose a writable --out path",
              file=sys.stderr)
        return 2
    print(f"{sd.decision.verdict}: wrote {args.out}")
    return 0


def cmd_prices(args: argparse.Namespace) -> int:
    from .costs import DEFAULT_PRICES_USD_PER_HOUR, parse_price
    from .runs.store import Store
    store = Store()
    prices = {} if args.reset else store.prices()
    for item in args.prices:
        kind, usd = parse_price(item)
        prices[kind] = usd
    if args.reset or args.prices:
        store.set_setting("prices", prices)
    for kind, default in DEFAULT_PRICES_USD_PER_HOUR.items():
        note = "" if kind not in prices else f"  (default {default:.2f})"
        print(f"{kind:<10} ${prices.get(kind, default):.2f}/hour{note}")
    return 0


def _int_list(text: str | None, option: str) -> list[int] | None:
    if not text:
        return None
    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        raise ConfigError(f"{option} {text}: write comma-separated integers, e.g. 128,256") from None
    if any(v < 1 for v in values):
        raise ConfigError(f"{option} {text}: every value must be >= 1")
    return values


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench
    if args.budget_s is not None and args.what != "gpu":
        raise ConfigError(f"--budget-s is for `bench gpu` only, not `bench {args.what}`")
    if args.what == "selfcheck":
        from .runs.selfchecks import cmd_selfcheck
        return cmd_selfcheck(args.preset)
    if args.what == "model":
        result = bench.bench_model(args.preset, args.steps, args.device, args.compile)
    elif args.what == "kernels":
        result = bench.bench_kernels(args.device, _int_list(args.seq_lens, "--seq-lens"))
    elif args.what == "infer":
        from .bench_infer import bench_infer
        result = bench_infer(args.preset, args.steps, args.device)
        from .runs.store import Store
        result["benchmark_id"] = Store().add_benchmark("infer", result)
    else:
        from .bench_gpu import bench_gpu, gaps
        path = bench.result_path("gpu", args.out)
        incomplete = gaps(bench_gpu(path, args.budget_s))
        print("\n".join([*incomplete, f"results written to {path}"]))
        return 1 if incomplete else 0
    path = bench.write_result(result, args.out)
    print(bench.format_result(result))
    print(f"results written to {path}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .data import decode, encode
    from .generate import generate_text
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise ConfigError(f"--temperature ({args.temperature}) must be a number >= 0 (0 is greedy)")
    if args.top_k < 0:
        raise ConfigError(f"--top-k ({args.top_k}) must be >= 0 (0: all)")
    text = generate_text(args.run, args.prompt, args.max_tokens, args.temperature,
                         args.top_k or None, args.seed)
    print(decode(encode(args.prompt)) + text)   # a prompt's non-UTF-8 bytes print replaced
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect import format_inspection, inspect_run
    result = inspect_run(args.run, text=args.text, sample=args.sample, token=args.token,
                         head=args.head, twin=args.twin)
    print(json.dumps(result, ensure_ascii=False) if args.json else format_inspection(result))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from .runs.migrate import db_command
    print(db_command(args.action))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from .runs import run_worker
    from .runs.store import Store
    n = run_worker(Store(), forever=args.forever, poll_s=args.poll, device=args.device,
                   lost_after_s=args.lost_after)
    print(f"worker processed {n} run{'s' if n != 1 else ''}")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from .cli_study import cmd_study
    return cmd_study(args)
