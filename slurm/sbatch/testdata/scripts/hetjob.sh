#!/bin/bash
#SBATCH --partition=normal --ntasks=1 --cpus-per-task=1
#SBATCH hetjob
#SBATCH --partition=gpu --gres=gpu:1
srun --het-group=0 ./a : --het-group=1 ./b
