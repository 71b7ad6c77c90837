#!/bin/bash -l
#
# Train a model on 4 GPUs.
#
#SBATCH -J resnet50
#SBATCH -p gpu
#SBATCH --gres=gpu:a100:4
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=2-00:00:00
#SBATCH --mail-type=BEGIN
#SBATCH --mail-type=END
#SBATCH --mail-type=FAIL
#SBATCH --mail-user=alice@example.org
#SBATCH -o logs/%x-%j.out
#SBATCH -e logs/%x-%j.err

module load cuda/12.2
srun python train.py --epochs 90
