"""tools/dist_train.sh: two processes on CPU (gloo) train the toy model with DDP."""
import os
import subprocess
import sys

import torch

from tool_runner import ROOT, TOY_TRAIN, tool_env, write_config


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_process_training_on_cpu(tmp_path):
    config = write_config(tmp_path / 'dist.py', TOY_TRAIN,
                          custom_hooks=[dict(type='RandomStateHook'), dict(type='RecordRank')])
    work_dir = tmp_path / 'wd'
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', str(work_dir),
         '--cfg-options', 'train_cfg.max_iters=4'],
        cwd=ROOT, env=tool_env(PYTHON=sys.executable, PORT=str(free_port())),
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, "\n".join(line for line in result.stderr.splitlines() if "Build settings" not in line)[-6000:]
    records = [torch.load(work_dir / f'rank{rank}.pt', weights_only=True) for rank in (0, 1)]
    assert [(r['rank'], r['world_size'], r['iter']) for r in records] == [(0, 2, 4), (1, 2, 4)]
    # DDP averaged the gradients, so both ranks end with the same weights
    assert torch.equal(records[0]['weight'], records[1]['weight'])
    checkpoint = torch.load(work_dir / 'iter_4.pth', weights_only=True)
    assert torch.equal(checkpoint['state_dict']['linear.weight'], records[0]['weight'])
    assert not os.path.exists(work_dir / 'rank2.pt')
