"""Config and checkpoint mistakes give errors naming the key, type or file."""
import pytest
import torch

from tool_runner import TOY_TRAIN, run_tool, write_config
from vmem.utils.config_check import ConfigError, check_cfg_options, check_registered_types, check_required_keys
from vmem.utils.runner_args import load_config
from vmem.utils.weights_loading import load_model_weights


def test_unknown_type_names_the_type_and_its_path():
    cfg = dict(model=dict(type='ToyRegressor'),
               train_dataloader=dict(dataset=dict(pipeline=[dict(type='LoadFrame'), dict(type='Resise')])))
    with pytest.raises(ConfigError) as error:
        check_registered_types(cfg, config_path='my_config.py')
    message = str(error.value)
    assert 'my_config.py' in message and "train_dataloader.dataset.pipeline[1].type = 'Resise'" in message
    assert 'did you mean Resize' in message and 'LoadFrame' not in message


def test_train_tool_reports_unknown_type_without_a_stack_trace(tmp_path):
    config = write_config(tmp_path / 'bad.py', TOY_TRAIN, model=dict(type='ToyRegresor', dim=4))
    result = run_tool('tools/train.py', config, '--work-dir', tmp_path / 'wd', expect_ok=False)
    assert result.returncode != 0
    assert "model.type = 'ToyRegresor'" in result.stderr and 'ToyRegressor' in result.stderr
    assert 'Traceback' not in result.stderr


def test_missing_required_key():
    with pytest.raises(ConfigError, match=r"my.py: train needs the top-level key\(s\) \['optim_wrapper'\]"):
        check_required_keys(dict(model={}, train_dataloader={}, train_cfg={}), mode='train', config_path='my.py')
    check_required_keys(dict(model={}, test_dataloader={}, test_evaluator={}, test_cfg={}), mode='test')


def test_cfg_options_typo_is_refused_and_plus_adds_keys():
    cfg = load_config(TOY_TRAIN)
    with pytest.raises(ConfigError) as error:
        check_cfg_options(cfg, {'optim_wrapper.optimzer.lr': 0.1}, config_path='toy.py')
    message = str(error.value)
    assert "optim_wrapper.optimzer.lr: 'optimzer' does not exist under optim_wrapper" in message
    assert 'did you mean optim_wrapper.optimizer' in message
    assert check_cfg_options(cfg, {'+optim_wrapper.clip_grad': None}) == {'optim_wrapper.clip_grad': None}
    assert check_cfg_options(cfg, {'param_scheduler.0.gamma': 0.5}) == {'param_scheduler.0.gamma': 0.5}
    with pytest.raises(ConfigError, match='param_scheduler.3.gamma'):
        check_cfg_options(cfg, {'param_scheduler.3.gamma': 0.5})
    with pytest.raises(FileNotFoundError, match='nowhere.py'):
        load_config('nowhere.py')


def test_checkpoint_missing_or_mismatched(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        load_model_weights(model, str(tmp_path / 'absent.pth'))
    other = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 2))
    state = {f'module.{k}': v for k, v in other.state_dict().items()}  # as saved from DDP
    state['extra.weight'] = torch.zeros(1)
    del state['module.0.bias']
    torch.save({'state_dict': state}, tmp_path / 'other.pth')
    with pytest.raises(ValueError) as error:
        load_model_weights(model, str(tmp_path / 'other.pth'))
    message = str(error.value)
    assert '1 missing in the checkpoint: 0.bias' in message and '1 unexpected (not in the model): extra.weight' in message
    assert '1.weight (checkpoint (2, 3), model (1, 3))' in message
    with pytest.warns(UserWarning, match='partly matches'):
        mismatch = load_model_weights(model, str(tmp_path / 'other.pth'), strict=False)
    assert torch.equal(model[0].weight, other[0].weight) and not torch.equal(model[1].weight[0], other[1].weight[0])
    assert mismatch.missing == ['0.bias']
