#!/bin/bash
#SBATCH --gpus=a100:2 --gpus-per-node=2 --cpus-per-gpu=4 --mem-per-gpu=16G
#SBATCH --gpus-per-task=1
srun ./a.out
