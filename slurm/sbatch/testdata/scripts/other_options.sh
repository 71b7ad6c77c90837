#!/bin/bash
#SBATCH --hold --begin=now+1hour --priority=5 --signal=USR1@60 -k
srun ./a.out
