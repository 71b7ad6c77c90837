#!/bin/bash
#SBATCH --exclusive user
srun ./a.out
