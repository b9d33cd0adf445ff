/*
 * cgrad-train: the main job. Trains an MLP or a CNN on Fashion-MNIST (Debian's
 * dataset-fashion-mnist package) with libcgrad's public API only, as any application would:
 * data loading and standardization, a validation split for early stopping and model
 * selection, any of the library's optimizers and schedules, checkpoints that resume
 * bit-identically, a metrics CSV, loss and accuracy curves (PNG, SVG), and the diagram of
 * the model's graph. The last line of standard output is test_accuracy=0.XXXX.
 *
 * The parts live in tools/train/: args.c (options), model.c (networks), loop.c (training,
 * evaluation, checkpoints), report.c (progress, metrics, plots, diagram).
 * `cgrad-train --help` lists the options; docs/training.md describes them and the measured
 * runs.
 */
#include "train/train.h"

int main(int argc, char **argv)
{
    train_opts o;
    int rc = train_parse_args(argc, argv, &o);
    if (rc == 1)
        return 0; /* --help */
    if (rc != 0)
        return rc;
    return train_run(&o);
}
