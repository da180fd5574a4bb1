"""torchvision.ops gap: box ops, NMS, RoI ops, losses, layers, checked against torch composites,
brute-force references and direct formulas (torchvision itself is not installable here)."""
import math

import numpy as np
import pytest
import torch

import ember as E
from ember.vision import ops


def _boxes(rng, n):
    xy = rng.uniform(0, 10, (n, 2))
    wh = rng.uniform(0.5, 6, (n, 2))
    return np.concatenate([xy, xy + wh], 1)


def _t_iou_parts(b1, b2):
    a1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    a2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = torch.max(b1[:, None, :2], b2[None, :, :2])
    rb = torch.min(b1[:, None, 2:], b2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = a1[:, None] + a2[None] - inter
    lti = torch.min(b1[:, None, :2], b2[None, :, :2])
    rbi = torch.max(b1[:, None, 2:], b2[None, :, 2:])
    whi = (rbi - lti).clamp(min=0)
    return inter, union, whi


def _t_pairwise(kind, b1, b2, eps=1e-7):
    inter, union, whi = _t_iou_parts(b1, b2)
    iou = inter / union
    if kind == "iou":
        return iou
    if kind == "giou":
        area = whi[..., 0] * whi[..., 1]
        return iou - (area - union) / area
    diag = (whi ** 2).sum(-1) + eps
    c1 = (b1[:, :2] + b1[:, 2:]) / 2
    c2 = (b2[:, :2] + b2[:, 2:]) / 2
    diou = iou - ((c1[:, None] - c2[None]) ** 2).sum(-1) / diag
    if kind == "diou":
        return diou
    w1, h1 = b1[:, 2] - b1[:, 0], b1[:, 3] - b1[:, 1]
    w2, h2 = b2[:, 2] - b2[:, 0], b2[:, 3] - b2[:, 1]
    v = 4 / math.pi ** 2 * (torch.atan(w1 / h1)[:, None] - torch.atan(w2 / h2)[None]) ** 2
    alpha = (v / (1 - iou + v + eps)).detach()
    return diou - alpha * v


@pytest.mark.parametrize("kind,fn", [("iou", ops.box_iou), ("giou", ops.generalized_box_iou),
                                     ("diou", ops.distance_box_iou),
                                     ("ciou", ops.complete_box_iou)])
def test_pairwise_iou_values_and_grads(kind, fn):
    rng = np.random.default_rng(0)
    a, b = _boxes(rng, 5), _boxes(rng, 4)
    ea, eb = E.tensor(a, requires_grad=True), E.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, ref = fn(ea, eb), _t_pairwise(kind, ta, tb)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    w = rng.normal(size=ref.shape)
    (out * E.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(eb.grad.numpy(), tb.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_box_iou_by_hand_and_area():
    b = E.tensor([[0., 0., 2., 2.], [1., 1., 3., 4.]])
    np.testing.assert_allclose(ops.box_area(b).numpy(), [4.0, 6.0])
    # overlap 1x1 = 1, union 4 + 6 - 1 = 9
    np.testing.assert_allclose(ops.box_iou(b, b).numpy(), [[1, 1 / 9], [1 / 9, 1]], rtol=1e-6)
    # enclosing box 3x4 = 12: giou = 1/9 - (12 - 9)/12
    np.testing.assert_allclose(ops.generalized_box_iou(b, b).numpy()[0, 1], 1 / 9 - 0.25,
                               rtol=1e-6)


def test_box_convert_roundtrip_and_values():
    b = E.tensor([[1., 2., 5., 8.]])
    np.testing.assert_allclose(ops.box_convert(b, "xyxy", "xywh").numpy(), [[1, 2, 4, 6]])
    np.testing.assert_allclose(ops.box_convert(b, "xyxy", "cxcywh").numpy(), [[3, 5, 4, 6]])
    for fin in ("xyxy", "xywh", "cxcywh"):
        for fout in ("xyxy", "xywh", "cxcywh"):
            c = ops.box_convert(ops.box_convert(b, "xyxy", fin), fin, fout)
            back = ops.box_convert(c, fout, "xyxy")
            np.testing.assert_allclose(back.numpy(), b.numpy(), rtol=1e-6)
    with pytest.raises(ValueError):
        ops.box_convert(b, "xyxy", "yxyx")


def test_clip_and_remove_small():
    b = E.tensor([[-1., 2., 15., 30.], [1., 1., 1.5, 9.]])
    np.testing.assert_allclose(ops.clip_boxes_to_image(b, (20, 10)).numpy(),
                               [[0, 2, 10, 20], [1, 1, 1.5, 9]])
    keep = ops.remove_small_boxes(b, 1.0)
    assert keep.dtype == E.int64 and keep.tolist() == [0]


def _brute_nms(boxes, scores, thr):
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        ok = True
        for j in keep:
            ti = torch.tensor(boxes[[i, j]])
            if _t_pairwise("iou", ti, ti)[0, 1].item() > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize("thr", [0.0, 0.3, 0.7])
def test_nms_against_brute_force(thr):
    rng = np.random.default_rng(1)
    b = _boxes(rng, 30)
    s = rng.uniform(size=30)
    s[5] = s[7]  # a tie: the lower index comes first
    keep = ops.nms(E.tensor(b), E.tensor(s), thr)
    assert keep.dtype == E.int64
    assert keep.tolist() == _brute_nms(b, s, thr)


def test_batched_nms_per_class():
    rng = np.random.default_rng(2)
    b, s = _boxes(rng, 25), rng.uniform(size=25)
    cls = rng.integers(0, 3, 25)
    keep = ops.batched_nms(E.tensor(b), E.tensor(s), E.tensor(cls), 0.4).tolist()
    ref = []
    for c in range(3):
        idx = np.nonzero(cls == c)[0]
        ref += [int(idx[k]) for k in _brute_nms(b[idx], s[idx], 0.4)]
    assert keep == sorted(ref, key=lambda i: -s[i])
    empty = ops.batched_nms(E.zeros((0, 4)), E.zeros((0,)), E.zeros((0,), dtype=E.int64), 0.5)
    assert empty.shape == (0,) and empty.dtype == E.int64


def test_masks_to_boxes():
    m = np.zeros((2, 6, 7), dtype=bool)
    m[0, 1:4, 2:6] = True
    m[1, 5, 0] = True
    out = ops.masks_to_boxes(E.tensor(m))
    np.testing.assert_allclose(out.numpy(), [[2, 1, 5, 3], [0, 5, 0, 5]])
    assert out.dtype == E.float32
    assert ops.masks_to_boxes(E.zeros((0, 3, 3))).shape == (0, 4)


def _bilinear(img, y, x):
    h, w = img.shape[-2:]
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return np.zeros(img.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * img[:, y0, x0] + (1 - ly) * lx * img[:, y0, x1]
            + ly * (1 - lx) * img[:, y1, x0] + ly * lx * img[:, y1, x1])


def _ref_roi_align(x, rois, ph, pw, scale, ratio, aligned):
    out = np.zeros((len(rois), x.shape[1], ph, pw))
    off = 0.5 if aligned else 0.0
    for k, r in enumerate(rois):
        img = x[int(r[0])]
        x1, y1, x2, y2 = (r[1:] * scale - off)
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        gh = ratio if ratio > 0 else math.ceil(rh / ph)
        gw = ratio if ratio > 0 else math.ceil(rw / pw)
        for i in range(ph):
            for j in range(pw):
                acc = np.zeros(x.shape[1])
                for a in range(gh):
                    for b in range(gw):
                        yy = y1 + i * rh / ph + (a + 0.5) * rh / ph / gh
                        xx = x1 + j * rw / pw + (b + 0.5) * rw / pw / gw
                        acc += _bilinear(img, yy, xx)
                out[k, :, i, j] = acc / max(gh * gw, 1)
    return out


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("ratio,scale", [(-1, 1.0), (2, 0.5), (3, 0.25)])
def test_roi_align_against_direct_sampling(aligned, ratio, scale):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 9, 11))
    rois = np.array([[0, 1.0, 1.5, 7.2, 6.0], [1, -2.0, 0.0, 12.0, 10.5],
                     [1, 3.0, 3.0, 3.4, 3.2], [0, 8.0, 6.0, 30.0, 30.0]])
    rois[:, 1:] /= scale / 1.0 if scale < 1 else 1.0
    out = ops.roi_align(E.tensor(x), E.tensor(rois), (3, 2), scale, ratio, aligned)
    ref = _ref_roi_align(x, rois, 3, 2, scale, ratio, aligned)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_roi_align_grad_matches_torch_grid_sample_composite():
    # With aligned=True, sampling_ratio fixed and all samples inside the image, RoI Align is
    # the mean of grid_sample(align_corners=False) samples; torch autograd gives the oracle.
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 2, 8, 10))
    box = [1.0, 1.5, 7.0, 6.5]
    ph, pw, g = 2, 3, 2
    xe = E.tensor(x, requires_grad=True)
    out = ops.roi_align(xe, [E.tensor([box])], (ph, pw), 1.0, g, True)
    xt = torch.tensor(x, requires_grad=True)
    x1, y1, x2, y2 = [v - 0.5 for v in box]
    ys = [y1 + (i + (a + 0.5) / g) * (y2 - y1) / ph for i in range(ph) for a in range(g)]
    xs = [x1 + (j + (b + 0.5) / g) * (x2 - x1) / pw for j in range(pw) for b in range(g)]
    gy = torch.tensor(ys, dtype=torch.float64).reshape(-1, 1).expand(-1, len(xs))
    gx = torch.tensor(xs, dtype=torch.float64).reshape(1, -1).expand(len(ys), -1)
    # grid_sample with align_corners=False maps pixel centre p to (2p + 1) / size - 1.
    grid = torch.stack([(2 * gx + 1) / 10 - 1, (2 * gy + 1) / 8 - 1], -1)[None].double()
    s = torch.nn.functional.grid_sample(xt, grid, align_corners=False)
    ref = s.reshape(1, 2, ph, g, pw, g).mean(dim=(3, 5))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    w = rng.normal(size=ref.shape)
    (out * E.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def _ref_roi_pool(x, rois, ph, pw, scale):
    out = np.zeros((len(rois), x.shape[1], ph, pw))
    h, w = x.shape[-2:]
    rnd = lambda v: int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))  # noqa
    for k, r in enumerate(rois):
        xs, ys, xe, ye = [rnd(v * scale) for v in r[1:]]
        rw, rh = max(xe - xs + 1, 1), max(ye - ys + 1, 1)
        for i in range(ph):
            for j in range(pw):
                hs = min(max(math.floor(i * rh / ph) + ys, 0), h)
                he = min(max(math.ceil((i + 1) * rh / ph) + ys, 0), h)
                ws = min(max(math.floor(j * rw / pw) + xs, 0), w)
                we = min(max(math.ceil((j + 1) * rw / pw) + xs, 0), w)
                if he > hs and we > ws:
                    out[k, :, i, j] = x[int(r[0]), :, hs:he, ws:we].max(axis=(1, 2))
    return out


def test_roi_pool_values_and_grad():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 9, 11))
    rois = np.array([[0, 1.0, 1.5, 7.2, 6.0], [1, -2.0, 0.0, 12.0, 10.5],
                     [1, 20.0, 20.0, 25.0, 25.0]])
    xe = E.tensor(x, requires_grad=True)
    out = ops.roi_pool(xe, E.tensor(rois), (3, 2), 1.0)
    np.testing.assert_allclose(out.detach().numpy(), _ref_roi_pool(x, rois, 3, 2, 1.0))
    mod = ops.RoIPool((3, 2), 0.5)
    np.testing.assert_allclose(mod(E.tensor(x), E.tensor(rois)).numpy(),
                               _ref_roi_pool(x, rois, 3, 2, 0.5))
    out.sum().backward()
    # Gradient of a max: each non-empty bin sends 1 to its (unique, random data) argmax.
    g = np.zeros_like(x)
    for k, r in enumerate(rois):
        ref = _ref_roi_pool(x, rois[k:k + 1], 3, 2, 1.0)[0]
        for c in range(3):
            for v in ref[c].ravel():
                hits = np.argwhere(x[int(r[0]), c] == v)
                if len(hits):
                    g[int(r[0]), c, hits[0][0], hits[0][1]] += 1
    np.testing.assert_allclose(xe.grad.numpy(), g)


def test_roi_align_module_and_list_boxes():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 1, 6, 6))
    boxes = [E.tensor([[0.0, 0.0, 4.0, 4.0]]), E.tensor([[1.0, 1.0, 5.0, 3.0]])]
    m = ops.RoIAlign(2, 1.0, 2, aligned=False)
    out = m(E.tensor(x), boxes)
    rois = np.array([[0, 0.0, 0.0, 4.0, 4.0], [1, 1.0, 1.0, 5.0, 3.0]])
    np.testing.assert_allclose(out.numpy(), _ref_roi_align(x, rois, 2, 2, 1.0, 2, False))
    assert "RoIAlign(output_size=2" in repr(m)
    with pytest.raises(ValueError):
        ops.roi_align(E.tensor(x), E.zeros((1, 4)), 2)


def test_sigmoid_focal_loss_against_torch():
    rng = np.random.default_rng(7)
    z, t = rng.normal(size=(4, 5)), (rng.uniform(size=(4, 5)) > 0.5).astype(np.float64)
    for alpha, gamma, red in [(0.25, 2, "none"), (-1, 0, "mean"), (0.5, 1.5, "sum")]:
        ze, zt = E.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
        tt = torch.tensor(t)
        p = torch.sigmoid(zt)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(zt, tt, reduction="none")
        pt = p * tt + (1 - p) * (1 - tt)
        ref = ce * (1 - pt) ** gamma
        if alpha >= 0:
            ref = (alpha * tt + (1 - alpha) * (1 - tt)) * ref
        ref = {"none": ref, "mean": ref.mean(), "sum": ref.sum()}[red]
        out = ops.sigmoid_focal_loss(ze, E.tensor(t), alpha, gamma, red)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(ze.grad.numpy(), zt.grad.numpy(), rtol=1e-9, atol=1e-14)
    with pytest.raises(ValueError):
        ops.sigmoid_focal_loss(E.tensor(z), E.tensor(t), reduction="max")


@pytest.mark.parametrize("kind,fn", [("giou", ops.generalized_box_iou_loss),
                                     ("diou", ops.distance_box_iou_loss),
                                     ("ciou", ops.complete_box_iou_loss)])
def test_box_losses_equal_one_minus_diagonal(kind, fn):
    # The elementwise losses equal 1 - (pairwise metric) on matched pairs for overlapping
    # boxes (eps only enters the denominators at 1e-7 relative size).
    rng = np.random.default_rng(8)
    a, b = _boxes(rng, 6), _boxes(rng, 6)
    ea = E.tensor(a, requires_grad=True)
    ta = torch.tensor(a, requires_grad=True)
    out = fn(ea, E.tensor(b), reduction="sum")
    ref = (1 - torch.diagonal(_t_pairwise(kind, ta, torch.tensor(b)))).sum()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-6)
    out.backward()
    ref.backward()
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError):
        fn(ea, E.tensor(b), reduction="avg")


def test_frozen_batch_norm():
    rng = np.random.default_rng(9)
    m = ops.FrozenBatchNorm2d(3)
    vals = {k: rng.uniform(0.5, 2, 3) for k in ("weight", "bias", "running_mean",
                                                "running_var")}
    sd = {k: E.tensor(v.astype(np.float32)) for k, v in vals.items()}
    sd["num_batches_tracked"] = E.tensor(5)
    m.load_state_dict(sd)
    x = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    bn = torch.nn.BatchNorm2d(3).eval()
    bn.load_state_dict({k: torch.tensor(v.astype(np.float32)) for k, v in vals.items()},
                       strict=False)
    with torch.no_grad():
        ref = bn(torch.tensor(x)).numpy()
    np.testing.assert_allclose(m(E.tensor(x)).numpy(), ref, rtol=1e-5, atol=1e-6)
    assert repr(m) == "FrozenBatchNorm2d(3, eps=1e-05)"
    assert len(list(m.parameters())) == 0


def test_drop_block2d():
    x = E.ones(4, 3, 16, 16)
    with pytest.raises(ValueError):
        ops.drop_block2d(x, 1.5, 3)
    with pytest.raises(ValueError):
        ops.drop_block2d(E.ones(3, 16, 16), 0.1, 3)
    assert ops.drop_block2d(x, 0.5, 3, training=False) is x
    E.manual_seed(0)
    y = ops.drop_block2d(x, 0.3, 3).numpy()
    zero = y == 0
    assert zero.any() and (~zero).any()
    # kept units are rescaled by numel / kept, so the mean stays 1
    np.testing.assert_allclose(y.mean(), 1.0, rtol=1e-4)
    np.testing.assert_allclose(y[~zero], zero.size / (~zero).sum(), rtol=1e-4)
    m = ops.DropBlock2d(0.2, 5).eval()
    assert m(x) is x


def test_fpn_matches_torch_composite():
    rng = np.random.default_rng(10)
    fpn = ops.FeaturePyramidNetwork([4, 8, 16], 6,
                                    extra_blocks=ops.layers.LastLevelMaxPool())
    keys = list(fpn.state_dict().keys())
    assert keys == [f"{k}_blocks.{i}.0.{p}" for k in ("inner", "layer") for i in range(3)
                    for p in ("weight", "bias")]
    feats = {"c3": rng.normal(size=(1, 4, 16, 16)), "c4": rng.normal(size=(1, 8, 8, 8)),
             "c5": rng.normal(size=(1, 16, 4, 4))}
    out = fpn({k: E.tensor(v.astype(np.float32)) for k, v in feats.items()})
    assert list(out.keys()) == ["c3", "c4", "c5", "pool"]
    sd = {k: torch.tensor(v.numpy()) for k, v in fpn.state_dict().items()}
    tf = torch.nn.functional
    conv = lambda x, k, i, pad: tf.conv2d(x, sd[f"{k}_blocks.{i}.0.weight"],  # noqa: E731
                                          sd[f"{k}_blocks.{i}.0.bias"], padding=pad)
    xs = [torch.tensor(v.astype(np.float32)) for v in feats.values()]
    last = conv(xs[2], "inner", 2, 0)
    res = [conv(last, "layer", 2, 1)]
    for i in (1, 0):
        lat = conv(xs[i], "inner", i, 0)
        last = lat + tf.interpolate(last, size=lat.shape[-2:], mode="nearest")
        res.insert(0, conv(last, "layer", i, 1))
    res.append(tf.max_pool2d(res[-1], 1, 2, 0))
    for o, r in zip(out.values(), res):
        np.testing.assert_allclose(o.detach().numpy(), r.numpy(), rtol=1e-4, atol=1e-5)


def _ref_ps_align(x, rois, ph, pw, scale, ratio):
    # Position-sensitive: bin (i, j) of output channel c samples input channel (c*PH+i)*PW+j,
    # pixel-centre aligned boxes (offset 0.5) without the 1-pixel minimum size.
    cout = x.shape[1] // (ph * pw)
    out = np.zeros((len(rois), cout, ph, pw))
    for k, r in enumerate(rois):
        x1, y1, x2, y2 = r[1:] * scale - 0.5
        rw, rh = x2 - x1, y2 - y1
        gh = ratio if ratio > 0 else math.ceil(rh / ph)
        gw = ratio if ratio > 0 else math.ceil(rw / pw)
        for c in range(cout):
            for i in range(ph):
                for j in range(pw):
                    img = x[int(r[0]), (c * ph + i) * pw + j][None]
                    acc = 0.0
                    for a in range(gh):
                        for b in range(gw):
                            acc += _bilinear(img, y1 + (i + (a + 0.5) / gh) * rh / ph,
                                             x1 + (j + (b + 0.5) / gw) * rw / pw)[0]
                    out[k, c, i, j] = acc / (gh * gw)
    return out


def _ref_ps_pool(x, rois, ph, pw, scale):
    cout = x.shape[1] // (ph * pw)
    h, w = x.shape[-2:]
    out = np.zeros((len(rois), cout, ph, pw))
    rnd = lambda v: int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))  # noqa
    for k, r in enumerate(rois):
        xs, ys, xe, ye = [rnd(v * scale) for v in r[1:]]
        rw, rh = max(xe - xs, 1), max(ye - ys, 1)
        for c in range(cout):
            for i in range(ph):
                for j in range(pw):
                    hs = min(max(math.floor(i * rh / ph) + ys, 0), h)
                    he = min(max(math.ceil((i + 1) * rh / ph) + ys, 0), h)
                    ws = min(max(math.floor(j * rw / pw) + xs, 0), w)
                    we = min(max(math.ceil((j + 1) * rw / pw) + xs, 0), w)
                    if he > hs and we > ws:
                        out[k, c, i, j] = x[int(r[0]), (c * ph + i) * pw + j,
                                            hs:he, ws:we].mean()
    return out


def test_ps_roi_align_and_pool():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 12, 9, 10))
    rois = np.array([[0, 1.0, 1.5, 7.2, 6.0], [1, -2.0, 0.0, 11.0, 9.5],
                     [1, 3.0, 3.0, 3.4, 3.2]])
    xe = E.tensor(x, requires_grad=True)
    out = ops.ps_roi_align(xe, E.tensor(rois), (2, 3), 1.0, -1)
    assert out.shape == (3, 2, 2, 3)
    np.testing.assert_allclose(out.detach().numpy(), _ref_ps_align(x, rois, 2, 3, 1.0, -1),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ops.PSRoIAlign(2, 0.5, 2)(E.tensor(x[:, :8]), E.tensor(rois))
                               .numpy(), _ref_ps_align(x[:, :8], rois, 2, 2, 0.5, 2),
                               rtol=1e-10, atol=1e-12)
    # Linear in the input, so the gradient of sum(out * w) is the reference applied to
    # unit vectors; check against finite differences on a few input entries.
    wgt = rng.normal(size=out.shape)
    (out * E.tensor(wgt)).sum().backward()
    for idx in [(0, 0, 2, 2), (1, 5, 4, 4), (0, 7, 3, 5), (1, 11, 8, 9)]:
        d = np.zeros_like(x)
        d[idx] = 1.0
        fd = (_ref_ps_align(d, rois, 2, 3, 1.0, -1) * wgt).sum()
        np.testing.assert_allclose(xe.grad.numpy()[idx], fd, rtol=1e-9, atol=1e-12)
    pooled = ops.ps_roi_pool(E.tensor(x), E.tensor(rois), 2, 1.0)
    np.testing.assert_allclose(pooled.numpy(), _ref_ps_pool(x, rois, 2, 2, 1.0), rtol=1e-10)
    np.testing.assert_allclose(ops.PSRoIPool((2, 3), 0.5)(E.tensor(x), E.tensor(rois)).numpy(),
                               _ref_ps_pool(x, rois, 2, 3, 0.5), rtol=1e-10)
    with pytest.raises(RuntimeError):
        ops.ps_roi_align(E.tensor(x[:, :5]), E.tensor(rois), 2)


def test_multiscale_roi_align_level_assignment():
    rng = np.random.default_rng(12)
    img_shapes = [(64, 64), (60, 64)]
    feats = {"p2": rng.normal(size=(2, 3, 16, 16)), "p3": rng.normal(size=(2, 3, 8, 8)),
             "p4": rng.normal(size=(2, 3, 4, 4))}
    # sqrt(area) 6.9, 64, 29.6, 40 -> levels 2 (clamped), 4, 2, 3
    boxes = [np.array([[2.0, 3.0, 10.0, 9.0], [0.0, 0.0, 64.0, 64.0]]),
             np.array([[5.0, 5.0, 40.0, 30.0], [5.0, 5.0, 45.0, 45.0]])]
    m = ops.MultiScaleRoIAlign(["p2", "p3", "p4"], 3, 2, canonical_scale=32,
                               canonical_level=3)
    xe = {k: E.tensor(v, requires_grad=True) for k, v in feats.items()}
    out = m(xe, [E.tensor(b) for b in boxes], img_shapes)
    assert out.shape == (4, 3, 3, 3)
    scales = {"p2": 0.25, "p3": 0.125, "p4": 0.0625}
    rois = np.concatenate([np.concatenate([np.full((len(b), 1), i), b], 1)
                           for i, b in enumerate(boxes)])
    for r, o in zip(rois, out.detach().numpy()):
        s = math.sqrt((r[3] - r[1]) * (r[4] - r[2]))
        lvl = min(max(math.floor(3 + math.log2(s / 32) + 1e-6), 2), 4)
        name = f"p{lvl}"
        ref = _ref_roi_align(feats[name], r[None], 3, 3, scales[name], 2, False)[0]
        np.testing.assert_allclose(o, ref, rtol=1e-10, atol=1e-12)
    out.sum().backward()
    assert all(float(abs(v.grad).sum()) > 0 for v in xe.values())
    assert "MultiScaleRoIAlign(featmap_names=['p2', 'p3', 'p4'], output_size=(3, 3)" in repr(m)


def test_nms_ties_and_empty():
    b = E.tensor([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0], [0.0, 0.0, 1.0, 1.0]])
    # equal scores: the earlier index wins, the identical later box is suppressed
    assert ops.nms(b, E.tensor([0.5, 0.5, 0.5]), 0.5).tolist() == [0, 1]
    assert ops.nms(b, E.tensor([0.4, 0.5, 0.6]), 0.5).tolist() == [2, 1]
    # IoU exactly at the threshold is kept (suppression needs IoU > threshold)
    half = E.tensor([[0.0, 0.0, 2.0, 1.0], [1.0, 0.0, 3.0, 1.0]])  # IoU = 1/3
    assert ops.nms(half, E.tensor([0.9, 0.8]), 1 / 3).tolist() == [0, 1]
    assert ops.nms(half, E.tensor([0.9, 0.8]), 0.33).tolist() == [0]
    empty = ops.nms(E.zeros((0, 4)), E.zeros((0,)), 0.5)
    assert empty.shape == (0,) and empty.dtype == E.int64
