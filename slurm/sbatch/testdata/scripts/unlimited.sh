#!/bin/bash
#SBATCH --time=UNLIMITED
srun ./a.out
