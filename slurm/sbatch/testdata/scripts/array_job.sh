#!/bin/bash
#SBATCH --array=0-99%10
#SBATCH --output=slurm-%A_%a.out
#SBATCH --time=30
#SBATCH --mem-per-cpu=2000
#SBATCH -c 2
./process ${SLURM_ARRAY_TASK_ID}
