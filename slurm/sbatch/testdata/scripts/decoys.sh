#!/bin/bash
##SBATCH --nodes=100
# SBATCH --nodes=200
#SBATCh --nodes=300
#sbatch --nodes=400
 #SBATCH --nodes=500
#SBATCH --nodes=2
srun ./a.out
