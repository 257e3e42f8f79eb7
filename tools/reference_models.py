#!/usr/bin/python3
"""PyTorch reference models for tagmap's tests (run by hand, never by CI).

These are independent re-statements of the architectures in
minzwon/sota-music-tagging-models (training/model.py, training/modules.py) as
described in ../shared/weights/README.md, with every width a parameter so that
small seeded-random fixtures can be generated. State-dict key names match the
published checkpoints: the real musicnn-mtat.pth loads with strict=True.

Every model's forward(waveform) takes (batch, samples) float audio at 16 kHz and
returns (taggram, embedding): taggram = sigmoid(dense2(embedding)), embedding =
relu(bn(dense1(pooled features))), both evaluated in eval() mode.

Width parameters (the names used in tests/data/models/manifest.json):
  Musicnn: n_mels, front_vertical (204: filters of each of the 2 vertical convs),
           front_horizontal (51: filters of each of the 3 horizontal convs),
           backend (64 MTAT / 512 MSD), dense (200 MTAT / 500 MSD), n_class
  Vgg:     n_mels, channels (128: layer1-2 use c, layer3-6 2c, layer7 4c), n_class,
           block ("res" = Res_2d for vgg-msd, "simple" = conv/bn/relu for vgg-mtat)
"""

import torch
import torch.nn as nn
import torchaudio

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
F_MIN = 0.0
F_MAX = 8000.0


def mel_front_end(n_mels):
    """torchaudio MelSpectrogram (periodic Hann, center, reflect, power 2, HTK mel)."""
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, f_min=F_MIN, f_max=F_MAX,
        n_mels=n_mels, power=2.0, center=True, pad_mode="reflect", norm=None,
        mel_scale="htk")


class LogMel(nn.Module):
    """spec -> AmplitudeToDB -> unsqueeze(1) -> spec_bn; keys spec.*, spec_bn.*."""

    def __init__(self, n_mels):
        super().__init__()
        self.spec = mel_front_end(n_mels)
        self.to_db = torchaudio.transforms.AmplitudeToDB()  # 10*log10(max(x,1e-10)), no top_db
        self.spec_bn = nn.BatchNorm2d(1)

    def log_mel(self, x):
        """(batch, samples) -> (batch, n_mels, frames) in dB, before spec_bn."""
        return self.to_db(self.spec(x))

    def forward(self, x):
        return self.spec_bn(self.log_mel(x).unsqueeze(1))


class ConvV(nn.Module):
    """Vertical conv (kernel (h, 7), pad (0, 3)) -> BN -> ReLU -> max over frequency."""

    def __init__(self, out_ch, height, width=7):
        super().__init__()
        self.conv = nn.Conv2d(1, out_ch, (height, width), padding=(0, width // 2))
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return x.amax(dim=2)


class ConvH(nn.Module):
    """Mean over frequency -> conv1d (k, pad k//2) -> BN -> ReLU."""

    def __init__(self, out_ch, length):
        super().__init__()
        self.conv = nn.Conv1d(1, out_ch, length, padding=length // 2)
        self.bn = nn.BatchNorm1d(out_ch)

    def forward(self, x):
        x = x.mean(dim=2)
        return torch.relu(self.bn(self.conv(x)))


class Conv1dBlock(nn.Module):
    """conv1d k=7 pad 3 -> BN -> ReLU (MaxPool1d(1) of the original is the identity)."""

    def __init__(self, in_ch, out_ch, k=7):
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, k, padding=k // 2)
        self.bn = nn.BatchNorm1d(out_ch)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Musicnn(LogMel):
    def __init__(self, n_mels=96, front_vertical=204, front_horizontal=51, backend=64,
                 dense=200, n_class=50):
        super().__init__(n_mels)
        # Filter heights are fractions of the 96-band input as in the original.
        self.layers = nn.ModuleList([
            ConvV(front_vertical, int(0.7 * n_mels)),
            ConvV(front_vertical, int(0.4 * n_mels)),
            ConvH(front_horizontal, 129),
            ConvH(front_horizontal, 65),
            ConvH(front_horizontal, 33),
        ])
        front = 2 * front_vertical + 3 * front_horizontal
        self.layer1 = Conv1dBlock(front, backend)
        self.layer2 = Conv1dBlock(backend, backend)
        self.layer3 = Conv1dBlock(backend, backend)
        self.dense1 = nn.Linear((front + 3 * backend) * 2, dense)
        self.bn = nn.BatchNorm1d(dense)
        self.dense2 = nn.Linear(dense, n_class)

    def forward(self, x):
        x = super().forward(x)
        out = torch.cat([layer(x) for layer in self.layers], dim=1)
        r1 = self.layer1(out)
        r2 = self.layer2(r1) + r1
        r3 = self.layer3(r2) + r2
        out = torch.cat([out, r1, r2, r3], dim=1)
        pooled = torch.cat([out.amax(dim=2), out.mean(dim=2)], dim=1)
        embedding = torch.relu(self.bn(self.dense1(pooled)))
        return torch.sigmoid(self.dense2(embedding)), embedding


class Res2d(nn.Module):
    """Res_2d: conv_1 (3x3, stride) -> bn_1 -> ReLU -> conv_2 -> bn_2, plus
    shortcut conv_3 (3x3, stride) -> bn_3 (always present: stride is 2); sum; ReLU."""

    def __init__(self, in_ch, out_ch, stride=2):
        super().__init__()
        self.conv_1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
        self.bn_1 = nn.BatchNorm2d(out_ch)
        self.conv_2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.bn_2 = nn.BatchNorm2d(out_ch)
        self.conv_3 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
        self.bn_3 = nn.BatchNorm2d(out_ch)

    def forward(self, x):
        out = self.bn_2(self.conv_2(torch.relu(self.bn_1(self.conv_1(x)))))
        return torch.relu(out + self.bn_3(self.conv_3(x)))


class Res2dSimple(nn.Module):
    """Res_2d_simple: conv (3x3, stride 2, pad 1) -> bn -> ReLU (no shortcut)."""

    def __init__(self, in_ch, out_ch, stride=2):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Vgg(LogMel):
    def __init__(self, n_mels=128, channels=128, n_class=50, block="res"):
        super().__init__(n_mels)
        Block = {"res": Res2d, "simple": Res2dSimple}[block]
        c = channels
        plan = [(1, c), (c, c), (c, 2 * c), (2 * c, 2 * c), (2 * c, 2 * c), (2 * c, 2 * c),
                (2 * c, 4 * c)]
        for i, (cin, cout) in enumerate(plan, start=1):
            setattr(self, f"layer{i}", Block(cin, cout))
        self.dense1 = nn.Linear(4 * c, 4 * c)
        self.bn = nn.BatchNorm1d(4 * c)
        self.dense2 = nn.Linear(4 * c, n_class)

    def forward(self, x):
        x = super().forward(x)
        for i in range(1, 8):
            x = getattr(self, f"layer{i}")(x)
        x = x.squeeze(2)  # frequency is 1 after 7 stride-2 layers on 128 bands
        x = x.amax(dim=2)  # global max over time
        embedding = torch.relu(self.bn(self.dense1(x)))
        return torch.sigmoid(self.dense2(embedding)), embedding


# model_id -> (constructor, default full widths, input samples per chunk)
MODELS = {
    "musicnn-mtat": (Musicnn, dict(n_mels=96, front_vertical=204, front_horizontal=51,
                                   backend=64, dense=200, n_class=50), 48000),
    "musicnn-msd": (Musicnn, dict(n_mels=96, front_vertical=204, front_horizontal=51,
                                  backend=512, dense=500, n_class=50), 48000),
    "vgg-msd": (Vgg, dict(n_mels=128, channels=128, n_class=50, block="res"), 59049),
    "vgg-mtat": (Vgg, dict(n_mels=128, channels=128, n_class=50, block="simple"), 59049),
}


def build(model_id, **widths):
    ctor, defaults, _ = MODELS[model_id]
    params = dict(defaults)
    params.update(widths)
    return ctor(**params), params
