#!/bin/bash
#SBATCH --job-name=x
#SBATCH --ti=10
srun ./a.out
