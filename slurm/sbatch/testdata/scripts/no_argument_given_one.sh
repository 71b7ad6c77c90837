#!/bin/bash
#SBATCH --hold=yes
srun ./a.out
