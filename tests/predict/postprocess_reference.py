"""RF-DETR's post-processing math in PyTorch, as the reference for postprocess_test.cpp.

Reads the problem that the test wrote (see write_problem there) and prints JSON: per image the
scores, labels, boxes (x0, y0, x1, y1 in source pixels) and masks (one '0'/'1' string per mask,
row-major at the source size). Exits 3 when torch is unavailable, so the test skips.
"""
import json
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"torch is not available: {error}", file=sys.stderr)
    sys.exit(3)


def read_problem(path):
    with open(path) as handle:
        tokens = handle.read().split()
    position = 0

    def take(count, kind=float):
        nonlocal position
        values = [kind(t) for t in tokens[position:position + count]]
        position += count
        return values

    batch, queries, classes, mask_h, mask_w, num_select = take(6, int)
    sizes = [take(2, int) for _ in range(batch)]
    logits = torch.tensor(take(batch * queries * classes)).view(batch, queries, classes)
    boxes = torch.tensor(take(batch * queries * 4)).view(batch, queries, 4)
    masks = torch.tensor(take(batch * queries * mask_h * mask_w)).view(batch, queries, mask_h, mask_w)
    return sizes, logits, boxes, masks, num_select


def main():
    sizes, logits, boxes, masks, num_select = read_problem(sys.argv[1])
    batch, _, classes = logits.shape
    probabilities = logits.sigmoid().reshape(batch, -1)
    scores, flat = probabilities.topk(num_select, dim=1)
    chosen = torch.div(flat, classes, rounding_mode="floor")
    labels = flat % classes
    cx, cy, w, h = boxes.unbind(-1)
    corners = torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)
    corners = corners.gather(1, chosen.unsqueeze(-1).expand(-1, -1, 4))
    size_tensor = torch.tensor(sizes)
    scale = torch.stack([size_tensor[:, 1], size_tensor[:, 0], size_tensor[:, 1], size_tensor[:, 0]], dim=1)
    corners = corners * scale[:, None, :]
    images = []
    for i, (height, width) in enumerate(sizes):
        low = masks[i][chosen[i]]
        full = F.interpolate(low.unsqueeze(1), size=(height, width), mode="bilinear", align_corners=False)
        binary = (full.squeeze(1) > 0).to(torch.uint8)
        images.append({
            "scores": scores[i].tolist(),
            "labels": labels[i].tolist(),
            "boxes": corners[i].tolist(),
            "masks": ["".join(str(v) for v in m.flatten().tolist()) for m in binary],
        })
    print(json.dumps(images))


if __name__ == "__main__":
    main()
