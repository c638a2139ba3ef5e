"""The three models as ONNX files, to run where this package does not: phones, browsers, other languages.

Each file computes what the app computes, on the same inputs:

- `face.onnx`: (N, 48, 48) uint8 aligned face crops -> `probs` (N, 6) and
  `embedding` (N, D). As the live page runs it: the face net's layers (it
  standardises each crop itself) and, when AVFusion is present, AVFusion's
  face head on the embedding (`FaceExpert.through(fusion.head("face"))`).
- `voice.onnx`: (N, F) float32 voice window features, *measured against
  the speaker* (see the metadata's `speaker_norm`) -> `probs` (N, 6): through
  AVFusion's voice head as the app does, or the voice expert without it.
- `avfusion.onnx`: `face_embedding` (N, D) from face.onnx, `voice_features`
  (N, F) as for voice.onnx, and float 0/1 masks `face_mask`, `voice_mask`
  (N,) saying which are present -> `probs` (N, 6).

Each file carries its metadata in ONNX `metadata_props` (key `moodmusic`, one
JSON object: classes in output order, inputs and outputs, feature versions,
the speaker prior, the scalers already inside the graph), and
`moodmusic_onnx.json` beside them gathers all three. The exporter is torch's
TorchScript-based one (`dynamo=False`): it needs only the `onnx` package and
takes about a second; the dynamo exporter needs `onnxscript` too and took
12 s for the face graph alone, for the same numbers.

Arrays in (the loaded models), files out: no vision, no audio.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from moodmusic.moods import MOODS

OPSET = 17  # LayerNorm as one op; onnxruntime since 1.14 and most edge runtimes read it
META_KEY = "moodmusic"
INDEX_FILE = "moodmusic_onnx.json"


class _Face(nn.Module):
    """crops -> (probs, embedding), flip-averaged when the expert is."""

    def __init__(self, net: nn.Module, head: nn.Module | None, flip: bool) -> None:
        super().__init__()
        self.net, self.head, self.flip = net, head, flip

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.net.embed(crops)
        if self.flip:
            emb = (emb + self.net.embed(crops.flip(-1))) / 2
        probs = self.head(emb) if self.head is not None else torch.softmax(self.net.head(emb), 1)
        return probs, emb


class _VoiceExpert(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(features)[0], 1)


class _Fusion(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, face: torch.Tensor, voice: torch.Tensor, face_mask: torch.Tensor,
                voice_mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(face, voice, face_mask, voice_mask)["out"], 1)


def _lists(x: Any) -> list[float]:
    return [float(v) for v in np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x).ravel()]


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], meta: dict) -> Path:
    import onnx

    module = module.eval()
    dynamic = {name: {0: "n"} for name in inputs + outputs}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on shape checks that are constant for these inputs
        torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs,
                          dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
    model = onnx.load(str(path))
    model.producer_name = "moodmusic"
    model.doc_string = meta["what"]
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def export_onnx(experts: Any, out_dir: str | Path, about: dict[str, Any] | None = None) -> list[Path]:
    """Write face.onnx, voice.onnx and avfusion.onnx (those whose models are loaded) and the index JSON.

    `experts`: a `recognition.Experts` (the full objects are read: `face_expert`,
    `voice_expert`, `fusion`). `about`: what the caller knows of the features
    (versions, how speaker normalisation is applied), stored in every file.
    Returns the paths written. Raises ValueError when no model is loaded.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    about = dict(about or {})
    face, voice, fusion = experts.face_expert, experts.voice_expert, experts.fusion
    if face is None and voice is None:
        raise ValueError("no face or voice model is loaded: nothing to export")
    common = {"classes": list(MOODS), **about}
    written: list[Path] = []
    index: dict[str, Any] = {"classes": list(MOODS), "opset": OPSET, "files": {}, **about}
    speaker_norm = experts.voice_norm

    if face is not None:
        head = fusion.head("face") if fusion is not None else None
        meta = {**common, "what": "face crops -> mood probabilities (and the embedding AVFusion reads)",
                "inputs": {"crops": "(N, 48, 48) uint8 greyscale aligned face crops, FER2013 framing "
                                    "(moodmusic.vision); the graph standardises each crop itself"},
                "outputs": {"probs": "(N, 6) probabilities in `classes` order",
                            "embedding": f"(N, {face.embedding_dim}) the face expert's embedding"},
                "feature_version": face.meta.get("feature_version"),
                "through": "AVFusion's face head" if head is not None else "the face expert's own head",
                "flip_average": bool(face.flip_average)}
        crops = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 48, 48), dtype=np.uint8))
        written.append(_export(_Face(face.net, head, face.flip_average), (crops,), out / "face.onnx",
                               ["crops"], ["probs", "embedding"], meta))
        index["files"]["face.onnx"] = meta

    if voice is not None:
        dim = voice.in_dim
        module = fusion.head("voice") if fusion is not None else _VoiceExpert(voice.net)
        meta = {**common, "what": "voice window features (against the speaker) -> mood probabilities",
                "inputs": {"features": f"(N, {dim}) float32 voice features of ~2.5 s windows "
                                       "(moodmusic.audio.clip_features), measured against the speaker "
                                       "(see speaker_norm); the graph applies the training scaler itself"},
                "outputs": {"probs": "(N, 6) probabilities in `classes` order"},
                "feature_version": voice.meta.get("feature_version"),
                "feature_names": voice.meta.get("feature_names"),
                "through": "AVFusion's voice head" if fusion is not None else "the voice expert",
                "speaker_norm": speaker_norm}
        feats = torch.zeros(2, dim)
        written.append(_export(module, (feats,), out / "voice.onnx", ["features"], ["probs"], meta))
        index["files"]["voice.onnx"] = {k: v for k, v in meta.items() if k != "speaker_norm"}
        index["speaker_norm"] = speaker_norm

    if fusion is not None:
        cfg = fusion.net.config
        meta = {**common, "what": "face embedding and/or voice features -> fused mood probabilities",
                "inputs": {"face_embedding": f"(N, {cfg['face_dim']}) face.onnx's `embedding`",
                           "voice_features": f"(N, {cfg['voice_dim']}) as voice.onnx's `features`",
                           "face_mask": "(N,) float32, 1 where a face is given, 0 where not (its values are ignored)",
                           "voice_mask": "(N,) float32, 1 where speech is given, 0 where not"},
                "outputs": {"probs": "(N, 6) probabilities in `classes` order: the fused head where both are "
                                     "given, that modality's head where one is"},
                "feature_version": fusion.meta.get("feature_version"), "strategy": cfg["strategy"],
                "speaker_norm": fusion.meta.get("speaker_norm"),
                "scalers_in_graph": {"face": {"mean": _lists(fusion.net.face.mean), "std": _lists(fusion.net.face.std)},
                                     "voice": {"mean": _lists(fusion.net.voice.mean),
                                               "std": _lists(fusion.net.voice.std)}}}
        n = 2
        args = (torch.zeros(n, cfg["face_dim"]), torch.zeros(n, cfg["voice_dim"]), torch.ones(n), torch.ones(n))
        written.append(_export(_Fusion(fusion.net), args, out / "avfusion.onnx",
                               ["face_embedding", "voice_features", "face_mask", "voice_mask"], ["probs"], meta))
        index["files"]["avfusion.onnx"] = {k: v for k, v in meta.items() if k not in ("speaker_norm", "scalers_in_graph")}

    (out / INDEX_FILE).write_text(json.dumps(index, indent=1))
    return written + [out / INDEX_FILE]


def read_meta(path: str | Path) -> dict[str, Any]:
    """The moodmusic metadata stored in an exported file (what a runtime elsewhere reads)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return json.loads({p.key: p.value for p in model.metadata_props}[META_KEY])
