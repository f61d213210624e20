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


def test_two_process_testing_on_cpu_gathers_every_video(tmp_path):
    """tools/dist_test.sh: each rank predicts whole videos; rank 0 evaluates all of them."""
    import pickle

    from tool_runner import TOY_TEST
    from vmem.datasets.synthetic import generate_synthvid
    root = tmp_path / 'synthvid'
    generate_synthvid(root, split='test', num_videos=3, num_frames=4, width=96, height=64, write_videos=False)
    checkpoint = tmp_path / 'toy.pth'
    torch.save({'state_dict': {'score': torch.tensor(0.5)}}, checkpoint)
    data = ['--cfg-options', f'test_dataloader.dataset.data_root={root}/',
            f'test_evaluator.ann_file={root}/annotations/synthvid_test.json']
    outputs = {}
    for processes in (1, 2):
        out = tmp_path / f'preds_{processes}.pkl'
        result = subprocess.run(
            ['bash', 'tools/dist_test.sh', TOY_TEST, str(checkpoint), str(processes),
             '--work-dir', str(tmp_path / f'wd{processes}'), '--out', str(out), *data],
            cwd=ROOT, env=tool_env(PYTHON=sys.executable, PORT=str(free_port())),
            capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr[-4000:]
        table = [line for line in result.stdout.splitlines() if line.startswith('| vid/mAP ')]
        assert len(table) == 1  # printed by rank 0 only
        with open(out, 'rb') as file:
            predictions = pickle.load(file)
        outputs[processes] = (table[0], sorted((p['video_id'], p['frame_id']) for p in predictions))
    assert outputs[2] == outputs[1]
    assert len(outputs[2][1]) == 12 and len(set(outputs[2][1])) == 12
