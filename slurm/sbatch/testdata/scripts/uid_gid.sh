#!/bin/bash
#SBATCH --uid=0 --gid=0
srun ./a.out
