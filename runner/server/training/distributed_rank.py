"""One rank of a job trained on several processes (see `distributed`); started by torch.distributed.run.

    python -m torch.distributed.run --standalone --nproc-per-node N -m runner.server.training.distributed_rank DIR

DIR holds the job's request.json; rank 0 writes the job's events there, reads its control word there and finally
writes result.json (or failure.json for a job that cannot train).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from runner.server.training import TrainingFailed
from runner.server.training.distributed import FileHooks, Group, RankHooks, read_request
from runner.server.training.runtime import DEVICE_ENV


def main(argv: list[str]) -> int:
    import torch
    import torch.distributed as dist

    link = Path(argv[0])
    on_gpu = torch.cuda.is_available() and not os.environ.get(DEVICE_ENV, "").startswith("cpu")
    if on_gpu:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        os.environ[DEVICE_ENV] = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if on_gpu else "gloo")
    group = Group(dist.get_rank(), dist.get_world_size())
    hooks = RankHooks(FileHooks(link) if group.rank == 0 else None, group)
    request = read_request(link / "request.json")
    from runner.server.training.trainer import train

    try:
        result = train(request, hooks)
    except TrainingFailed as e:
        if group.rank == 0:
            failure = {"code": e.code, "message": e.message, "param": e.param}
            (link / "failure.json").write_text(json.dumps(failure), encoding="utf-8")
        return 0
    finally:
        dist.destroy_process_group()
    if group.rank == 0:
        fields = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
        (link / "result.json.tmp").write_text(json.dumps(fields), encoding="utf-8")
        (link / "result.json.tmp").replace(link / "result.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
