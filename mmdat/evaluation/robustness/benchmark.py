"""The evaluation loops behind ``tools/test_robustness.py``: the model is built and loaded once,
then evaluated clean and on every cell of a grid (a corruption and severity, or an attack and
strength) of any mmdet or mmpretrain test config; corruptions go in right after image loading.

Every cell's metrics are written to disk the moment they exist, so an interrupted run, started
again with the same arguments, evaluates only the missing cells.
"""
import copy
import hashlib
import json
import math
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
from mmengine.config import Config, ConfigDict
from mmengine.dist import get_world_size, is_main_process
from mmengine.evaluator import Evaluator
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner, TestLoop
from mmengine.utils import ProgressBar

from mmdat.utils.checkpoint import check_checkpoint_fits
from .corrupted_dir import CorruptedDirectory
from .corruptions import library_version
from .summary import summarize

CLEAN = ('clean', 0)
#: Test pipeline steps that set the image's size, left out for images fed as stored (ImageNet-C)
SIZE_STEPS = ('Resize', 'Crop')


class RobustnessError(ValueError):
    """A setting of a robustness run that cannot work (reported before any evaluation)."""


def _type_name(transform: dict) -> str:
    kind = transform.get('type', '')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    return name.split('.')[-1]


def _is_image_loader(transform: dict) -> bool:
    return _type_name(transform) in ('LoadImageFromFile', 'LoadImageFromNDArray')


def _dataset_with_pipeline(dataset: dict) -> dict:
    """The innermost dataset config that holds the pipeline (through wrappers)."""
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']
    if 'pipeline' not in dataset:
        raise RobustnessError('the test dataset config has no pipeline to insert corruptions into')
    return dataset


def image_root_of(dataset: dict) -> Optional[str]:
    """The directory a dataset's image paths are relative to: ``data_root`` joined with the image
    prefix (mmdet ``data_prefix.img``, mmpretrain ``data_prefix`` or ``data_prefix.img_path``)."""
    dataset = _dataset_with_pipeline(dataset)
    prefix = dataset.get('data_prefix', '')
    if isinstance(prefix, dict):
        prefix = prefix.get('img', prefix.get('img_path', ''))
    root = osp.join(dataset.get('data_root', '') or '', prefix or '')
    return osp.abspath(root) if root else None


def corrupted_dataloader(dataloader: dict, corruption: Optional[str], severity: int,
                         transform_args: dict, num_images: Optional[int],
                         workers: Optional[int]) -> dict:
    """A copy of a test dataloader config with ``mmdat.CorruptImage`` right after the image loader
    (none for clean), the first ``num_images`` images and ``workers`` worker processes. With
    ``transform_args['stored_size']`` (stored images at their own size, ImageNet-C's 224² crops)
    the pipeline's resize and crop steps after the loader are left out: the images are fed as the
    set stores them, as its protocol does."""
    dataloader = copy.deepcopy(dataloader)
    dataset = _dataset_with_pipeline(dataloader['dataset'])
    if num_images is not None:
        dataset['indices'] = num_images
    if workers is not None:
        dataloader['num_workers'] = workers
        dataloader['persistent_workers'] = False
    if corruption is not None:
        pipeline = list(dataset['pipeline'])
        loaders = [i for i, transform in enumerate(pipeline) if _is_image_loader(transform)]
        if not loaders:
            raise RobustnessError(
                'the test pipeline has no LoadImageFromFile step to put the corruption after: '
                f'{[t.get("type") for t in pipeline]}')
        if transform_args.get('stored_size'):
            pipeline = pipeline[:loaders[0] + 1] + [
                step for step in pipeline[loaders[0] + 1:]
                if not any(word in _type_name(step) for word in SIZE_STEPS)]
        pipeline.insert(loaders[0] + 1, dict(type='mmdat.CorruptImage', corruption=corruption,
                                             severity=severity, **transform_args))
        dataset['pipeline'] = pipeline
    return dataloader


class _GridProgress(Hook):
    """One progress bar with ETA over every image of every pending cell (on the main process,
    counting its share of the images)."""

    priority = 'VERY_LOW'

    def __init__(self, total_images: int) -> None:
        self.bar = ProgressBar(total_images) if is_main_process() and total_images else None

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.bar is not None:
            for _ in range(len(outputs) if outputs is not None else 1):
                self.bar.update()


class CellBenchmark:
    """Evaluate one checkpoint on a grid of cells (clean first), resumable cell by cell.

    The model is built and loaded once. Each cell's metrics go to ``<out>/<cells_dirname>/`` as soon
    as they exist; a second run with the same arguments evaluates only the missing cells, and a run
    whose arguments differ from the ones recorded in ``<out>/run.json`` is refused. Subclasses say
    which cells there are (:meth:`cells`) and how one is evaluated (:meth:`evaluate`).

    Under ``--launcher pytorch`` (or slurm, mpi) every rank evaluates its share of each cell's images
    and the evaluator gathers the results, as mmengine's test loop does; the main process writes
    the files, and the cells are the ones a single process gives.

    Args:
        cfg (Config): the model's config (its ``test_dataloader`` and ``test_evaluator`` are used).
        checkpoint (str): the weights to evaluate.
        out_dir (str): the output directory.
        num_images (int, optional): evaluate the first N images only. Defaults to None (all).
        workers (int, optional): dataloader worker processes. Defaults to None (the config's).

    Before any evaluation the checkpoint's keys and shapes are checked against the config's model
    (:func:`mmdat.utils.checkpoint.check_checkpoint_fits`).
    """

    cells_dirname = 'cells'

    def __init__(self, cfg: Config, checkpoint: str, out_dir: str,
                 num_images: Optional[int] = None, workers: Optional[int] = None) -> None:
        if cfg.get('test_dataloader') is None or cfg.get('test_evaluator') is None:
            raise RobustnessError('the config has no test_dataloader / test_evaluator: add them (an '
                                  'mmdet or mmpretrain test config has both)')
        self.cfg = cfg
        self.checkpoint = checkpoint
        self.out_dir = out_dir
        self.num_images = num_images
        self.workers = workers
        self.cells_dir = osp.join(out_dir, self.cells_dirname)
        self._dataset = None
        # what makes two runs the same, wherever their files lie: the config's name, the weights' bytes
        self.identity = dict(
            config=osp.basename(cfg.filename) if cfg.filename else None,
            checkpoint_sha256=_file_sha256(checkpoint), num_images=num_images)

    # -- what subclasses define ----------------------------------------------------------------------
    def cells(self) -> List[Tuple[str, object]]:
        """Every cell of the grid, clean first."""
        raise NotImplementedError

    def evaluate(self, runner: Runner, cell: Tuple[str, object]) -> Dict[str, float]:
        """The evaluator's metrics on one cell."""
        raise NotImplementedError

    def check_inputs(self, runner: Runner, pending: List[Tuple[str, object]]) -> None:
        """Raise, before any inference, for an input the pending cells would miss."""

    # -- files ---------------------------------------------------------------------------------------
    def _cell_path(self, cell: Tuple[str, object]) -> str:
        return osp.join(self.cells_dir, f'{cell[0]}-{cell[1]}.json')

    def _prepare_out_dir(self) -> None:
        try:
            os.makedirs(self.cells_dir, exist_ok=True)
            probe = osp.join(self.out_dir, f'.write_test.{os.getpid()}')
            with open(probe, 'w') as file:
                file.write('ok')
            os.remove(probe)
        except OSError as err:
            raise RobustnessError(f'--out {self.out_dir} cannot be written: {err.strerror}') from None
        run_file = osp.join(self.out_dir, 'run.json')
        if osp.isfile(run_file):
            with open(run_file) as file:
                previous = _upgrade_identity(json.load(file), self.checkpoint)
            changed = [k for k in self.identity if previous.get(k) != self.identity[k]]
            if changed:
                raise RobustnessError(
                    f'{self.out_dir} holds results of another run (it differs in '
                    f'{", ".join(changed)}); pass another --out or delete that directory')
        elif is_main_process():
            _write_json(run_file, self.identity)

    def load_cells(self) -> Dict[Tuple[str, object], dict]:
        """The cells already written (the clean one included)."""
        done = {}
        for cell in self.cells():
            path = self._cell_path(cell)
            if osp.isfile(path):
                with open(path) as file:
                    done[cell] = json.load(file)
        return done

    # -- the loop ------------------------------------------------------------------------------------
    def run_cells(self) -> Dict[Tuple[str, object], dict]:
        """Evaluate the missing cells; return every cell's record (``metrics``, ``seconds``)."""
        self._prepare_out_dir()
        done = self.load_cells()
        pending = [cell for cell in self.cells() if cell not in done]
        if pending:
            runner = self._build_runner()
            self.check_inputs(runner, pending)
            share = math.ceil(len(self.dataset(runner)) / get_world_size())  # DefaultSampler's
            self.progress = _GridProgress(share * len(pending))
            runner.register_hook(self.progress)
            for cell in pending:
                start = time.perf_counter()
                metrics = self.evaluate(runner, cell)
                if cell == CLEAN and not metrics:
                    raise RobustnessError(
                        f'the test evaluator returned no metrics on the clean images with '
                        f'{self.checkpoint} (mmdet\'s CocoMetric returns none when the model '
                        'detects nothing at all): train it further or check the checkpoint')
                record = dict(metrics=metrics, seconds=time.perf_counter() - start)
                if is_main_process():
                    _write_json(self._cell_path(cell), record)
                done[cell] = record
            runner.call_hook('after_run')
            if self.progress.bar is not None:
                print()
        return done

    def _build_runner(self) -> Runner:
        cfg = copy.deepcopy(self.cfg)
        cfg.work_dir = osp.join(self.out_dir, 'runner')
        cfg.load_from = None  # loaded below, once, after the check
        cfg.resume = False
        cfg.visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
        default_hooks = cfg.get('default_hooks', ConfigDict())
        for name in ('visualization', 'checkpoint'):
            default_hooks.pop(name, None)
        cfg.default_hooks = default_hooks
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model  # DDP: unwrapped
        check_checkpoint_fits(model, self.checkpoint)
        runner.call_hook('before_run')
        runner.load_checkpoint(self.checkpoint, map_location='cpu', strict=True)
        return runner

    def test_dataloader(self, corruption: Optional[str] = None, severity: int = 0,
                        transform_args: Optional[dict] = None) -> dict:
        """The config's test dataloader for this run (subset, workers, an optional corruption)."""
        return corrupted_dataloader(self.cfg.test_dataloader, corruption, severity,
                                    transform_args or {}, self.num_images, self.workers)

    def build_evaluator(self, runner: Runner, dataset) -> Evaluator:
        """The config's test evaluator, limited to the images of ``dataset``: COCO metrics
        otherwise score every image of the annotation file, so a ``num_images`` subset would count
        the images it skipped as missed detections."""
        evaluator = runner.build_evaluator(copy.deepcopy(self.cfg.test_evaluator))
        coco_metrics = [metric for metric in evaluator.metrics
                        if hasattr(metric, '_coco_api') and hasattr(metric, 'img_ids')]
        if self.num_images is not None and coco_metrics:
            image_ids = [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]
            for metric in coco_metrics:
                metric.img_ids = image_ids
        return evaluator

    def dataset(self, runner: Runner):
        """The test dataset of this run (the ``num_images`` subset), built once."""
        if self._dataset is None:
            loader = corrupted_dataloader(self.cfg.test_dataloader, None, 0, {}, self.num_images, 0)
            self._dataset = runner.build_dataloader(loader).dataset
        return self._dataset


class CorruptionBenchmark(CellBenchmark):
    """Clean and corrupted evaluation (COCO-C / ImageNet-C) of one checkpoint.

    Args:
        cfg, checkpoint, out_dir, num_images, workers: as :class:`CellBenchmark`.
        corruptions (list[str]): corruption names (already resolved).
        severities (list[int]): severities in 1-5.
        seed (int): base seed of the per-image corruption seeds. Defaults to 0.
        cache_dir (str, optional): corruption cache; None turns caching off.
        corrupted_dir (str, optional): read pre-generated corrupted images from this directory.
    """

    def __init__(self, cfg: Config, checkpoint: str, out_dir: str, corruptions: Sequence[str],
                 severities: Sequence[int], num_images: Optional[int] = None,
                 workers: Optional[int] = None, seed: int = 0, cache_dir: Optional[str] = None,
                 corrupted_dir: Optional[str] = None) -> None:
        super().__init__(cfg, checkpoint, out_dir, num_images, workers)
        self.corruptions = list(corruptions)
        self.severities = list(severities)
        self.seed = seed
        self.corrupted_dir = corrupted_dir
        self.transform_args = dict(seed=seed, cache_dir=cache_dir, corrupted_dir=corrupted_dir,
                                   image_root=image_root_of(cfg.test_dataloader.dataset))
        self.identity.update(
            seed=seed, corruption_library=library_version(),
            corrupted_dir=osp.abspath(corrupted_dir) if corrupted_dir else None)

    def cells(self) -> List[Tuple[str, int]]:
        return [CLEAN] + [(c, s) for c in self.corruptions for s in self.severities]

    def check_inputs(self, runner: Runner, pending: List[Tuple[str, int]]) -> None:
        """With ``corrupted_dir``: every image of every pending cell is there (else one line naming
        what is missing), and the stored images' size is the clean ones' or, for a set stored at
        its own size (ImageNet-C's 224² crops) and a test set without annotations in pixels, fed
        as stored."""
        cells = [cell for cell in pending if cell != CLEAN]
        if self.corrupted_dir is None or not cells:
            return
        from mmdat.datasets.transforms import image_key
        dataset = self.dataset(runner)
        paths = [dataset.get_data_info(index)['img_path'] for index in range(len(dataset))]
        keys = [image_key(path, self.transform_args['image_root']) for path in paths]
        directory = CorruptedDirectory(self.corrupted_dir)
        directory.check(cells, keys)
        stored = cv2.imread(directory.find(*cells[0], keys[0]), cv2.IMREAD_COLOR)
        clean = cv2.imread(paths[0], cv2.IMREAD_COLOR)
        if stored is None or clean is None or stored.shape == clean.shape:
            return
        pipeline = _dataset_with_pipeline(self.cfg.test_dataloader.dataset)['pipeline']
        if any(_type_name(step).startswith('LoadAnnotations') for step in pipeline):
            raise RobustnessError(
                f'{directory.find(*cells[0], keys[0])} is {stored.shape[1]}x{stored.shape[0]}, but '
                f'the clean image {paths[0]} is {clean.shape[1]}x{clean.shape[0]}: this test set\'s '
                'annotations are in the clean images\' pixels, so its corrupted copies must keep '
                'their size (tools/make_coco_c.py keeps it)')
        self.transform_args['stored_size'] = True
        if is_main_process():
            print(f'mmdat: --corrupted-dir stores its images at their own size ({stored.shape[1]}x'
                  f'{stored.shape[0]}; the clean {paths[0]} is {clean.shape[1]}x{clean.shape[0]}): '
                  'they are fed as stored, without the test pipeline\'s resize and crop steps, as '
                  'ImageNet-C\'s protocol does; the clean cell keeps the full pipeline')

    def evaluate(self, runner: Runner, cell: Tuple[str, int]) -> Dict[str, float]:
        corruption = None if cell == CLEAN else cell[0]
        dataloader = runner.build_dataloader(
            self.test_dataloader(corruption, cell[1], self.transform_args), seed=runner.seed)
        loop = TestLoop(runner, dataloader, self.build_evaluator(runner, dataloader.dataset))
        runner._test_loop = loop  # the loggers read the current loop's length from the runner
        return numeric_metrics(loop.run())

    def run(self) -> dict:
        """Evaluate the missing cells, then return the content of ``robustness.json``."""
        done = self.run_cells()
        cells = {cell: record['metrics'] for cell, record in done.items() if cell != CLEAN}
        clean = done[CLEAN]['metrics']
        return dict(
            config=self.identity['config'] or '', checkpoint=self.checkpoint,
            corruption_library=self.identity['corruption_library'], seed=self.seed,
            num_images=self.num_images, corrupted_dir=self.corrupted_dir,
            corruptions=self.corruptions, severities=self.severities,
            clean=clean,
            cells=[dict(corruption=c, severity=s, metrics=cells[(c, s)],
                        seconds=done[(c, s)].get('seconds')) for (c, s) in cells],
            summary=summarize(clean, cells, self.corruptions, self.severities, self.num_images))


def numeric_metrics(metrics: dict) -> Dict[str, float]:
    """The evaluator's scalar metrics as floats (JSON-ready)."""
    return {key: float(value) for key, value in metrics.items()
            if isinstance(value, (int, float))}


def _upgrade_identity(previous: dict, checkpoint: str) -> dict:
    """A ``run.json`` written before it held the checkpoint's sha256 names the checkpoint by absolute
    path and size: read it as the same run when both still match, so its finished cells are kept."""
    if 'checkpoint_sha256' in previous or 'checkpoint' not in previous:
        return previous
    same_file = (previous['checkpoint'] == osp.abspath(checkpoint)
                 and previous.get('checkpoint_bytes') == osp.getsize(checkpoint))
    upgraded = {k: v for k, v in previous.items() if k not in ('checkpoint', 'checkpoint_bytes')}
    upgraded['config'] = osp.basename(previous['config']) if previous.get('config') else None
    upgraded['checkpoint_sha256'] = _file_sha256(checkpoint) if same_file else None
    return upgraded


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: str, content: dict) -> None:
    """Write atomically: a reader never sees half a file, an interrupted write leaves none."""
    temporary = f'{path}.tmp'
    with open(temporary, 'w') as file:
        json.dump(content, file, indent=2)
    os.replace(temporary, path)


def list_results(paths: List[str]) -> List[dict]:
    """Load ``robustness.json`` files (a directory stands for its ``robustness.json``)."""
    results = []
    for path in paths:
        if osp.isdir(path):
            path = osp.join(path, 'robustness.json')
        if not osp.isfile(path):
            raise RobustnessError(f'{path} does not exist (pass robustness.json files or the '
                                  '--out directories of tools/test_robustness.py)')
        with open(path) as file:
            results.append(json.load(file))
    return results
